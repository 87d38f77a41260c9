using Iced.Intel;
using Decoder = Iced.Intel.Decoder;

namespace CocoLaunch.Cpu.Tests;

/// <summary>The committed vector table: well-formed everywhere, and reproduced by the host CPU where KVM is usable.</summary>
public sealed class CpuVectorTests
{
    [Fact]
    public void Table_RowsDecodeToTheirFormWithIcedsUndefinedFlags()
    {
        var rows = CpuVectorTable.All;

        Assert.InRange(rows.Count, 3000, 8000);
        foreach (var row in rows)
        {
            var decoder = Decoder.Create(64, new ByteArrayCodeReader(row.Code), RealCpu.CodeAddress);
            var instruction = decoder.Decode();
            Assert.False(instruction.IsInvalid, row.Name);
            Assert.Equal(row.Code.Length, instruction.Length);
            Assert.Equal(row.UndefinedMask, CpuVectorGenerator.UndefinedMask(instruction.RflagsUndefined));
            Assert.True((row.RflagsIn & 0x202) == 0x202, $"{row.Name}: IF and bit 1 are set in every input");
        }
    }

    [Fact]
    public void Table_FaultingRowsLeaveTheStateUnchanged()
    {
        var faults = CpuVectorTable.All.Where(r => r.Vector is not null).ToList();

        Assert.Contains(faults, r => r.Vector == 0);
        Assert.Contains(faults, r => r.Vector == 13);
        foreach (var row in faults)
        {
            Assert.Equal(0UL, row.RipOffset);
            Assert.Equal(row.In, row.Out);
            Assert.Equal(row.ScratchIn, row.ScratchOut);
        }
    }

    [KvmFact]
    public void RealCpu_ReproducesEveryRow()
    {
        var cpu = RealCpu.Shared!;
        Assert.True(cpu.IsNative(RealCpuMode.Long64), "64-bit user-mode code does not run on the silicon here");

        // Undefined flags differ between models of one vendor too (BSF's on Zen 3 and Zen 4, say), so they are
        // compared only on the family, model and stepping that recorded the table.
        string recordedOn = File.ReadLines(CpuVectorGenerator.DefaultPath).First();
        string host = CpuVectorGenerator.HostCpu();
        bool sameModel = recordedOn.Contains(" on " + host[..host.IndexOf(" (", StringComparison.Ordinal)] + " ", StringComparison.Ordinal);
        bool sameVendor = recordedOn.Contains(" on " + host[..host.IndexOf(' ', StringComparison.Ordinal)] + " ", StringComparison.Ordinal);
        var failures = new List<string>();
        // The SDM leaves these destinations undefined in cases the table covers (a zero BSF/BSR source, a double
        // shift count past the operand size); AMD documents what its CPUs do, another vendor need not match it.
        string[] vendorDefined = ["bsf ", "bsr ", "shld ", "shrd "];
        foreach (var row in CpuVectorTable.All.Where(r => sameVendor || !vendorDefined.Any(m => r.Name.StartsWith(m, StringComparison.Ordinal))))
        {
            var result = cpu.Run(row.Code, row.ToRealCpuInput());
            ulong mask = sameModel ? ulong.MaxValue : ~row.UndefinedMask;
            var actual = result.Gprs.Append(result.Rflags & mask);
            var expected = row.Out.Take(16).Append(row.RflagsOut & mask);
            bool same = actual.SequenceEqual(expected)
                && result.Scratch.AsSpan(0, CpuVector.ScratchBytes).SequenceEqual(row.ScratchOut)
                && !result.Scratch.AsSpan(CpuVector.ScratchBytes).ContainsAnyExcept((byte)0)
                && result.ExceptionVector == row.Vector
                && result.Rip == RealCpu.CodeAddress + row.RipOffset;
            if (!same && failures.Count < 20)
            {
                failures.Add($"{row.Name} {Convert.ToHexString(row.Code)}: out {CpuVectorGenerator.Values(result.Gprs, result.Rflags)} vector {result.ExceptionVector} rip {result.Rip:x}");
            }
        }

        Assert.True(failures.Count == 0, string.Join('\n', failures));
    }
}
