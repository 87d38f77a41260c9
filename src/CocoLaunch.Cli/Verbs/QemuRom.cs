using System.Diagnostics;

namespace CocoLaunch.Cli.Verbs;

/// <summary>
/// One bench ROM under QEMU TCG, run as guests/README.md runs it (<c>-bios</c>, isa-debug-exit at 0xF4): the
/// wall time of the whole process, start-up included, as a user of QEMU would see it.
/// </summary>
internal static class QemuRom
{
    /// <summary>Wall time and exit status of one run; null when qemu-system-x86_64 is not on PATH.</summary>
    public static (TimeSpan Elapsed, int ExitStatus)? Run(string rom)
    {
        var start = new ProcessStartInfo("qemu-system-x86_64")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in new[] { "-machine", "pc", "-cpu", "qemu64", "-accel", "tcg", "-m", "64", "-bios", rom, "-display", "none", "-monitor", "none",
            "-debugcon", "stdio", "-serial", "none", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-no-reboot" })
        {
            start.ArgumentList.Add(arg);
        }

        var clock = Stopwatch.StartNew();
        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null; // not installed
        }

        using (process)
        {
            process.StandardOutput.BaseStream.CopyTo(Stream.Null);
            if (!process.WaitForExit(TimeSpan.FromMinutes(5)))
            {
                process.Kill();
            }

            // isa-debug-exit makes QEMU's status (v << 1) | 1, the same status our harness reports.
            return (clock.Elapsed, process.ExitCode);
        }
    }
}
