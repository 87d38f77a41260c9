using System.Globalization;
using CocoLaunch.Cli.Reports;
using CocoLaunch.Vmm.Bench;
using CocoLaunch.Vmm.Boot;

namespace CocoLaunch.Cli.Verbs;

/// <summary>
/// bench --suite linux: launch-specs/linux.yaml (Debian's 6.12 kernel and our initramfs) booted to power-off on the
/// emulated platform, and the same kernel, initramfs, memory and command line under QEMU TCG in the same run when
/// <c>qemu-system-x86_64</c> is on PATH: wall time, the time to "Run /init" and to the init's first line, and the ratio.
/// </summary>
internal static class LinuxBench
{
    private const string RunInit = "Run /init as init process", InitLine = "cocolaunch-init: hello from PID 1", PowerDown = "reboot: Power down";

    public static void Run(TextWriter stdout)
    {
        string specs = BenchVerb.FindRepoFolder("launch-specs") ?? throw new CliInputException("bench --suite linux: the launch-specs folder of the repository was not found");
        var spec = Spec.LaunchSpecParser.Load(Path.Combine(specs, "linux.yaml"));
        var boot = spec.DirectBoot!;
        var kernel = KernelBoot.Load(boot.KernelPath);
        var initrd = File.ReadAllBytes(boot.InitrdPath!);
        string cmdline = boot.Cmdline ?? string.Empty;

        var table = new TextTable("platform", "instructions", "wall time", "MIPS", "to Run /init", "to the init's first line", "powered off");
        // The wall time runs from the VM's creation to power-off, on the same clock as the milestones, as QEMU's
        // runs from its process start.
        var ours = new ConsoleMilestones(RunInit, InitLine, PowerDown);
        var result = LinuxBoot.Run(kernel, initrd, cmdline, spec.Memory.Size, ours, 20_000_000_000, TimeSpan.FromMinutes(10), KernelBoot.VcpuTypeOf(spec.VcpuType));
        var wall = ours.Elapsed;
        table.Add("cocolaunch (emulated CPU)", result.Instructions.ToString("N0", CultureInfo.InvariantCulture), Seconds(wall),
            (result.Instructions / wall.TotalSeconds / 1e6).ToString("0.0", CultureInfo.InvariantCulture), Seconds(ours, RunInit), Seconds(ours, InitLine),
            result.Stop == LinuxBoard.StopPoweredOff ? "yes" : result.Stop);

        var qemu = RunQemu(boot.KernelPath, boot.InitrdPath!, cmdline, spec.Memory.Size);
        if (qemu is { } q)
        {
            table.Add("QEMU TCG (qemu-system-x86_64 -machine q35 -accel tcg)", "—", Seconds(q.Elapsed), "—", Seconds(q.Console, RunInit), Seconds(q.Console, InitLine),
                q.Console.Seen.ContainsKey(PowerDown) ? "yes" : "no");
        }

        stdout.WriteLine($"Linux boot: {Path.GetFileName(boot.KernelPath)}, {Path.GetFileName(boot.InitrdPath)}, {spec.Memory.Size >> 20} MiB, \"{cmdline}\"");
        table.Write(stdout);
        if (qemu is { } r)
        {
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  wall time ratio cocolaunch / QEMU TCG: {wall / r.Elapsed:0.00} (to the init's first line: {Ratio(ours, r.Console, InitLine)})"));
        }
        else
        {
            stdout.WriteLine("  QEMU TCG: qemu-system-x86_64 is not on PATH (apt-get install qemu-system-x86); no ratio");
        }

        stdout.WriteLine();
    }

    private static (TimeSpan Elapsed, ConsoleMilestones Console)? RunQemu(string kernel, string initrd, string cmdline, ulong memory)
    {
        var console = new ConsoleMilestones(RunInit, InitLine, PowerDown);
        var run = QemuTcg.Run(["-machine", "q35", "-accel", "tcg", "-m", $"{memory >> 20}M", "-nographic", "-no-reboot", "-serial", "stdio", "-monitor", "none",
            "-kernel", kernel, "-initrd", initrd, "-append", cmdline], console, TimeSpan.FromMinutes(10));
        return run is { } r ? (r.Elapsed, console) : null;
    }

    private static string Seconds(TimeSpan t) => t.TotalSeconds.ToString("0.00 s", CultureInfo.InvariantCulture);

    private static string Seconds(ConsoleMilestones c, string marker) => c.Seen.TryGetValue(marker, out var t) ? Seconds(t) : "not reached";

    private static string Ratio(ConsoleMilestones ours, ConsoleMilestones qemu, string marker) =>
        ours.Seen.TryGetValue(marker, out var a) && qemu.Seen.TryGetValue(marker, out var b) ? (a / b).ToString("0.00", CultureInfo.InvariantCulture) : "—";
}
