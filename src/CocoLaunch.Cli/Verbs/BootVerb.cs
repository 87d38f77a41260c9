using System.Globalization;
using System.Text;
using CocoLaunch.Vmm.Boot;
using CommandLine;

namespace CocoLaunch.Cli.Verbs;

[Verb("boot", HelpText = "Boot a raw flat firmware image (loaded to end at 4 GiB, as qemu -bios), or a Linux bzImage with --kernel, on the emulated CPU, with debugcon 0xE9, COM1 and isa-debug-exit 0xF4.")]
public sealed class BootOptions : CommonOptions
{
    [Value(0, MetaName = "FIRMWARE", HelpText = "The flat image: whole 4 KiB pages, at most 16 MiB. Not with --kernel.")]
    public string Firmware { get; set; } = string.Empty;

    [Option("kernel", HelpText = "Boot this Linux bzImage directly (the x86 64-bit boot protocol) instead of a firmware image.")]
    public string? Kernel { get; set; }

    [Option("initrd", HelpText = "With --kernel: the initrd, placed at the top of RAM below 3 GiB.")]
    public string? Initrd { get; set; }

    [Option("cmdline", Default = "console=ttyS0", HelpText = "With --kernel: the kernel command line.")]
    public string Cmdline { get; set; } = "console=ttyS0";

    [Option("memory", Default = "128M", HelpText = "Guest RAM from 2M to 1T (K, M, G, T suffixes): below 3 GiB, then above 4 GiB.")]
    public string Memory { get; set; } = "128M";

    [Option("vcpus", Default = 1, HelpText = "vCPUs (1 for now: the boot harness runs the BSP only).")]
    public int Vcpus { get; set; } = 1;

    [Option("max-instructions", Default = "10000000000", HelpText = "Stop (exit 1) after this many guest instructions.")]
    public string MaxInstructions { get; set; } = "10000000000";

    [Option("timeout", Default = "120", HelpText = "Stop (exit 1) after this many seconds of running (at most 86400).")]
    public string Timeout { get; set; } = "120";

    [Option("reset", Default = "legacy", HelpText = "Reset state: legacy (real mode at F000:FFF0, as SNP's VMSA) or tdx (32-bit protected mode).")]
    public string Reset { get; set; } = "legacy";

    [Option("stats", HelpText = "Print instructions, wall time and MIPS on stderr.")]
    public bool Stats { get; set; }
}

internal static class BootVerb
{
    private const long MaxFirmware = 16 << 20;

    public static int Run(BootOptions o, TextWriter stdout, TextWriter stderr)
    {
        ulong memory = Spec.SizeParser.TryParse(o.Memory, out ulong bytes, out _) && bytes >= FirmwareBoot.MinMemory && bytes <= FirmwareBoot.MaxMemory && bytes % 4096 == 0
            ? bytes
            : throw new CliInputException($"--memory: '{o.Memory}' is not a whole number of pages from 2M to 1T (e.g. 128M)");
        ulong max = CliArguments.Number(o.MaxInstructions, "--max-instructions");
        if (max is 0 or > long.MaxValue)
        {
            throw new CliInputException($"--max-instructions: {o.MaxInstructions} is out of range (1..{long.MaxValue})");
        }

        long limit = (long)max;
        var timeout = CliArguments.Seconds(o.Timeout, "--timeout");
        if (o.Vcpus != 1)
        {
            throw new CliInputException($"--vcpus: {o.Vcpus} is not supported by the boot harness yet (use 1)");
        }

        if (o.Reset is not ("legacy" or "tdx"))
        {
            throw new CliInputException($"--reset: '{o.Reset}' is not one of: legacy, tdx");
        }

        using var console = ReferenceEquals(stdout, Console.Out) ? Console.OpenStandardOutput() : new TextWriterStream(stdout);
        if (o.Kernel is not null || o.Initrd is not null)
        {
            return BootKernel(o, memory, limit, timeout, console, stderr);
        }

        if (o.Firmware.Length == 0)
        {
            throw new CliInputException("boot needs a FIRMWARE image or --kernel");
        }

        Abi.IO.InputFile.CheckRegular(o.Firmware, "firmware");
        var info = new FileInfo(o.Firmware);

        if (info.Length == 0 || info.Length % 4096 != 0 || info.Length > MaxFirmware)
        {
            throw new CliInputException($"{o.Firmware}: {info.Length} bytes is not a flat image of whole 4 KiB pages up to 16 MiB");
        }

        var reset = o.Reset == "tdx" ? Cpu.CpuState.TdxReset(0, 0, 0x0000_0F6B) : Cpu.CpuState.LegacyReset();
        var result = FirmwareBoot.Run(Abi.IO.InputFile.ReadAllBytes(o.Firmware, MaxFirmware, "firmware"), memory, console, limit, reset, timeout: timeout);
        console.Flush();
        PrintStats(o, result, stderr);
        if (result.ExitStatus is { } status)
        {
            return status;
        }

        CliApp.Error(stderr, $"{o.Firmware}: the guest stopped without isa-debug-exit: {result.Stop}");
        return ExitCode.CheckFailed;
    }

    /// <summary>A direct Linux boot: exit 0 when the guest powers off, else 1 naming what stopped it.</summary>
    private static int BootKernel(BootOptions o, ulong memory, long limit, TimeSpan? timeout, Stream console, TextWriter stderr)
    {
        if (o.Kernel is null || o.Firmware.Length != 0 || o.Reset != "legacy")
        {
            throw new CliInputException("--kernel boots a bzImage: give it instead of FIRMWARE and --reset (and --initrd only with it)");
        }

        return KernelBoot.Run(new KernelBootRequest(o.Kernel, o.Initrd, o.Cmdline, memory, VcpuType.KvmIntel, limit, timeout, o.Stats), console, stderr);
    }

    private static void PrintStats(BootOptions o, BootResult result, TextWriter stderr)
    {
        if (o.Stats)
        {
            KernelBoot.PrintStats(result, stderr);
        }
    }
}
