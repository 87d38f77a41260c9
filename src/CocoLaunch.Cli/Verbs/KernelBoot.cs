using System.Globalization;
using CocoLaunch.Vmm.Boot;

namespace CocoLaunch.Cli.Verbs;

/// <summary>What a direct Linux boot needs from the command line or a spec, with the paths that name each input in messages.</summary>
internal sealed record KernelBootRequest(string KernelPath, string? InitrdPath, string Cmdline, ulong Memory, VcpuType VcpuType, long MaxInstructions, TimeSpan? Timeout, bool Stats);

/// <summary>
/// A direct Linux boot for <c>boot --kernel</c> and for <c>launch</c> of a spec without firmware: the kernel and initrd
/// read with their size limits, a malformed image or a layout that does not fit as a one-line input error (exit 2),
/// the serial console on stdout, exit 0 when the guest powers off and 1 naming what stopped it otherwise.
/// </summary>
internal static class KernelBoot
{
    private const long MaxKernel = 64 << 20, MaxInitrd = 1L << 30;

    /// <summary>Reads and parses a bzImage; a malformed one is an input error naming the field and offset.</summary>
    public static Formats.Linux.BzImage Load(string path)
    {
        var image = Abi.IO.InputFile.ReadAllBytes(path, MaxKernel, "kernel");
        try
        {
            return Formats.Linux.BzImage.Parse(image);
        }
        catch (Formats.Linux.KernelFormatException e)
        {
            throw new CliInputException(e.Describe(path));
        }
    }

    public static int Run(KernelBootRequest r, Stream console, TextWriter stderr)
    {
        var kernel = Load(r.KernelPath);

        var initrd = r.InitrdPath is null ? [] : Abi.IO.InputFile.ReadAllBytes(r.InitrdPath, MaxInitrd, "initrd");
        BootResult result;
        try
        {
            result = LinuxBoot.Run(kernel, initrd, r.Cmdline, r.Memory, console, r.MaxInstructions, r.Timeout, r.VcpuType);
        }
        catch (LinuxBootException e)
        {
            throw new CliInputException($"{r.KernelPath}: {e.Message}");
        }

        console.Flush();
        if (r.Stats)
        {
            PrintStats(result, stderr);
        }

        if (result.Stop == LinuxBoard.StopPoweredOff)
        {
            return ExitCode.Ok;
        }

        CliApp.Error(stderr, $"{r.KernelPath}: the guest stopped without powering off: {result.Stop}");
        return ExitCode.CheckFailed;
    }

    /// <summary>A spec's <c>vcpu-type</c> as the boot harness names it.</summary>
    public static VcpuType VcpuTypeOf(string? name) => name switch
    {
        "qemu64" => VcpuType.Qemu64,
        _ => VcpuType.KvmIntel,
    };

    /// <summary>--stats: instructions, MIPS and the CPU's counters (how much ran compiled and chained).</summary>
    internal static void PrintStats(BootResult result, TextWriter stderr)
    {
        stderr.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{CliApp.Name}: {result.Instructions} instructions in {result.Elapsed.TotalSeconds:0.000} s: {result.Mips:0.0} MIPS"));
        if (result.Counters is { } c)
        {
            stderr.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{CliApp.Name}: {c.CompiledShare(result.Instructions):P1} compiled ({c.InstructionsHandedToInterpreter} handed from compiled blocks to the interpreter); {c.BlocksDecoded} blocks decoded, {c.BlocksCompiled} compiled; {c.BlocksChained} block runs chained; {c.CodeInvalidations} code-page writes; {c.CodeCacheDrops} block-cache drops; {c.TlbFlushes} TLB flushes"));
            if (c.HandedOffForms is { Count: > 0 } forms)
            {
                stderr.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{CliApp.Name}: forms compiled blocks hand to the interpreter most: {string.Join(", ", forms.Select(f => $"{f.Form} {f.Count}"))}"));
            }
        }
    }
}
