using System.Globalization;
using System.Text;
using CocoLaunch.Cpu;

namespace CocoLaunch.Cpu.Tests;

/// <summary>
/// Replays tests/data/cpu-vectors.tsv (single instructions recorded on the real CPU through KVM) on the
/// emulator: registers, RFLAGS (less the flags the architecture leaves undefined), the scratch bytes, RIP and
/// the exception vector must all agree. Runs everywhere: the rows are committed data.
/// </summary>
public sealed class VectorReplayTests
{
    private const ulong Idt = 0x4000, Handlers = 0x5000, Gdt = 0x6000;

    /// <summary>Every family twice: interpreted, and compiled to IL on first run (JitThreshold 0).</summary>
    public static TheoryData<string, bool> Families()
    {
        var data = new TheoryData<string, bool>();
        foreach (string family in CpuVectorTable.All.Select(Family).Distinct())
        {
            data.Add(family, false);
            data.Add(family, true);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void Family_MatchesTheRealCpu(string family, bool compiled)
    {
        var failures = new StringBuilder();
        int count = 0, failed = 0;
        foreach (var v in CpuVectorTable.All.Where(v => Family(v) == family))
        {
            count++;
            if (Replay(v, compiled) is { } why)
            {
                failed++;
                if (failed <= 5)
                {
                    failures.AppendLine(CultureInfo.InvariantCulture, $"{v.Name} [{Convert.ToHexStringLower(v.Code)}]: {why}");
                }
            }
        }

        Assert.True(failed == 0, $"{failed} of {count} '{family}' vectors differ:\n{failures}");
    }

    private static string Family(CpuVector v) => v.Name.Split(' ')[0];

    /// <summary>Null when the emulator agrees with the row, else what differs.</summary>
    internal static string? Replay(CpuVector v, bool compiled = false)
    {
        using var m = new LongModeMachine();
        m.Cpu.JitThreshold = compiled ? 0 : int.MaxValue;
        InstallExceptionHandlers(m);
        v.In.AsSpan(0, 16).CopyTo(m.State.Gpr);
        m.State.Rflags = v.RflagsIn | 2;
        m.Ram.Write(LongModeMachine.ScratchAddress, v.ScratchIn);
        var exit = m.RunBytes(v.Code, maxInstructions: 100_000);
        if (exit is not CpuExit.Halt halt)
        {
            return $"stopped with {exit}";
        }

        ulong rip = halt.Rip;
        ulong rflags = m.State.Rflags;
        ulong rsp = m.State.Gpr[4];
        int? vector = null;
        if (rip > Handlers && rip <= Handlers + 32)
        {
            // The handler's frame: error code (for some vectors), RIP, CS, RFLAGS, RSP, SS.
            vector = (int)(rip - Handlers - 1);
            ulong frame = rsp + (Cpu.Vector.HasErrorCode(vector.Value) ? 8UL : 0);
            rip = BitConverter.ToUInt64(m.Ram.Read(frame, 8));
            rflags = BitConverter.ToUInt64(m.Ram.Read(frame + 16, 8));
            rsp = BitConverter.ToUInt64(m.Ram.Read(frame + 24, 8));
        }

        var diffs = new List<string>();
        if (vector != v.Vector)
        {
            diffs.Add($"vector {vector?.ToString(CultureInfo.InvariantCulture) ?? "-"} != {v.Vector?.ToString(CultureInfo.InvariantCulture) ?? "-"}");
        }

        ulong expectedRip = LongModeMachine.CodeAddress + v.RipOffset;
        if (rip != expectedRip)
        {
            diffs.Add($"rip 0x{rip:x} != 0x{expectedRip:x}");
        }

        for (int r = 0; r < 16; r++)
        {
            ulong actual = r == 4 ? rsp : m.State.Gpr[r];
            if (actual != v.Out[r])
            {
                diffs.Add($"r{r} 0x{actual:x} != 0x{v.Out[r]:x}");
            }
        }

        ulong mask = ~v.UndefinedMask & 0x3F_FFFF;
        if ((rflags & mask) != (v.RflagsOut & mask))
        {
            diffs.Add($"rflags 0x{rflags:x} != 0x{v.RflagsOut:x} (undefined 0x{v.UndefinedMask:x})");
        }

        var scratch = m.Ram.Read(LongModeMachine.ScratchAddress, CpuVector.ScratchBytes);
        if (!scratch.AsSpan().SequenceEqual(v.ScratchOut))
        {
            diffs.Add($"scratch {Convert.ToHexStringLower(scratch)} != {Convert.ToHexStringLower(v.ScratchOut)}");
        }

        return diffs.Count == 0 ? null : string.Join("; ", diffs);
    }

    /// <summary>A GDT with a 64-bit code segment and an IDT whose handler for vector n is a HLT at Handlers + n.</summary>
    internal static void InstallExceptionHandlers(LongModeMachine m)
    {
        m.Ram.Write(Gdt, [.. BitConverter.GetBytes(0UL), .. BitConverter.GetBytes(0x00AF_9A00_0000_FFFFUL), .. BitConverter.GetBytes(0x00CF_9200_0000_FFFFUL)]);
        m.State.Gdtr = new DescriptorTable { Base = Gdt, Limit = 23 };
        for (int n = 0; n < 32; n++)
        {
            ulong handler = Handlers + (ulong)n;
            ulong low = (handler & 0xFFFF) | (0x08UL << 16) | (0x8EUL << 40) | (((handler >> 16) & 0xFFFF) << 48);
            m.Ram.Write(Idt + (ulong)(16 * n), [.. BitConverter.GetBytes(low), .. BitConverter.GetBytes(handler >> 32)]);
            m.Ram.Write(handler, [0xF4]);
        }

        m.State.Idtr = new DescriptorTable { Base = Idt, Limit = (32 * 16) - 1 };
    }
}
