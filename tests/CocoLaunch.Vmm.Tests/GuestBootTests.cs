using System.Globalization;
using CocoLaunch.Tests.Shared;
using CocoLaunch.Vmm.Boot;

namespace CocoLaunch.Vmm.Tests;

/// <summary>
/// The committed test guests (guests/README.md) boot from the legacy reset vector through protected and long
/// mode into gcc -O2 C code, and print what the same C printed natively (guests/expected).
/// </summary>
public sealed class GuestBootTests
{
    /// <summary>Every image but the 16 MiB benchmarks (bench --suite cpu runs those), from each reset state.</summary>
    public static TheoryData<string, bool> Images()
    {
        var data = new TheoryData<string, bool>();
        foreach (var line in File.ReadLines(Path.Combine(RepoPaths.Root, "guests", "bin", "MANIFEST.tsv")))
        {
            if (!line.StartsWith('#') && !line.StartsWith("bench16m", StringComparison.Ordinal))
            {
                data.Add(line.Split('\t')[0], false);
                data.Add(line.Split('\t')[0], true);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Images))]
    public void Boot_FromEitherResetState_PrintsTheNativeOutputAndExitStatus(string image, bool tdxReset)
    {
        var row = File.ReadLines(Path.Combine(RepoPaths.Root, "guests", "bin", "MANIFEST.tsv")).First(l => l.StartsWith(image + "\t", StringComparison.Ordinal)).Split('\t');
        var console = new MemoryStream();
        var serial = new MemoryStream();
        // The TDX state: flat 32-bit protected mode at 0xFFFFFFF0 (cpu-emulator.md §2.2); the stub takes its PE = 1 path.
        var reset = tdxReset ? Cpu.CpuState.TdxReset(0, 0, 0x0000_0F6B) : Cpu.CpuState.LegacyReset();
        var result = FirmwareBoot.Run(File.ReadAllBytes(Path.Combine(RepoPaths.Root, "guests", "bin", image)), ulong.Parse(row[2], CultureInfo.InvariantCulture), console, 2_000_000_000, reset, serial);
        string expected = File.ReadAllText(Path.Combine(RepoPaths.Root, "guests", row[3]));
        // hello also greets once through COM1, polling the 16550's LSR before each byte.
        string expectedSerial = image.StartsWith("hello", StringComparison.Ordinal) ? expected : string.Empty;
        Assert.Equal((expected, expectedSerial, (int?)int.Parse(row[5], CultureInfo.InvariantCulture)),
            (DebugDevices.Text(console.ToArray()), DebugDevices.Text(serial.ToArray()), result.ExitStatus));
    }
}

/// <summary>XSETBV leaves the CPU and KVM checks it (__kvm_set_xcr); CPUID's OSXSAVE follows CR4.</summary>
public sealed class XsetbvTests
{
    [Fact]
    public void Xsetbv_SetsXcr0ForOfferedComponents_AndRefusesOthersWithGp()
    {
        // 32-bit flat code from the TDX reset state: enable OSXSAVE, XCR0 = x87|SSE, print XGETBV's EAX and
        // CPUID.1:ECX.OSXSAVE on debugcon, then ask for AVX (not offered): #GP, with no IDT a triple fault.
        var a = new Iced.Intel.Assembler(32);
        a.mov(Iced.Intel.AssemblerRegisters.eax, Iced.Intel.AssemblerRegisters.cr4);
        a.or(Iced.Intel.AssemblerRegisters.eax, 0x4_0600);
        a.mov(Iced.Intel.AssemblerRegisters.cr4, Iced.Intel.AssemblerRegisters.eax);
        a.xor(Iced.Intel.AssemblerRegisters.ecx, Iced.Intel.AssemblerRegisters.ecx);
        a.xor(Iced.Intel.AssemblerRegisters.edx, Iced.Intel.AssemblerRegisters.edx);
        a.mov(Iced.Intel.AssemblerRegisters.eax, 3);
        a.xsetbv();
        a.xgetbv();
        a.add(Iced.Intel.AssemblerRegisters.al, (byte)'0');
        a.@out(0xE9, Iced.Intel.AssemblerRegisters.al);
        a.mov(Iced.Intel.AssemblerRegisters.eax, 1);
        a.cpuid();
        a.shr(Iced.Intel.AssemblerRegisters.ecx, 27);
        a.and(Iced.Intel.AssemblerRegisters.ecx, 1);
        a.add(Iced.Intel.AssemblerRegisters.cl, (byte)'0');
        a.mov(Iced.Intel.AssemblerRegisters.al, Iced.Intel.AssemblerRegisters.cl);
        a.@out(0xE9, Iced.Intel.AssemblerRegisters.al);
        a.xor(Iced.Intel.AssemblerRegisters.ecx, Iced.Intel.AssemblerRegisters.ecx);
        a.mov(Iced.Intel.AssemblerRegisters.eax, 7);
        a.xsetbv();
        a.hlt();
        var stream = new MemoryStream();
        a.Assemble(new Iced.Intel.StreamCodeWriter(stream), 0xFFFF_F000);
        var image = new byte[4096];
        stream.ToArray().CopyTo(image, 0);
        // At the reset vector 0xFFFFFFF0: jmp 0xFFFFF000 (rel32 from 0xFFFFFFF5).
        image[0xFF0] = 0xE9;
        BitConverter.GetBytes(unchecked(0xFFFF_F000u - 0xFFFF_FFF5u)).CopyTo(image, 0xFF1);

        var console = new MemoryStream();
        var result = FirmwareBoot.Run(image, 2 << 20, console, 10_000, Cpu.CpuState.TdxReset(0, 0, 0x0000_0F6B));
        Assert.Equal(("31", "shutdown (triple fault)"), (DebugDevices.Text(console.ToArray()), result.Stop));
    }
}
