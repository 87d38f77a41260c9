using System.Diagnostics;

namespace CocoLaunch.Cli.Verbs;

/// <summary>
/// QEMU TCG as the benchmarks' peer: one qemu-system-x86_64 process, timed from its start to its exit, start-up
/// included, as a user of QEMU would see it.
/// </summary>
internal static class QemuTcg
{
    /// <summary>
    /// Runs qemu-system-x86_64 with <paramref name="arguments"/>, its standard output into <paramref name="console"/>;
    /// wall time and exit status, or null when it is not on PATH. A run past <paramref name="limit"/> is killed.
    /// </summary>
    public static (TimeSpan Elapsed, int ExitStatus)? Run(IEnumerable<string> arguments, Stream console, TimeSpan limit)
    {
        var start = new ProcessStartInfo("qemu-system-x86_64")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in arguments)
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
            // Both pipes are drained while the process runs (a full stderr pipe would stall QEMU), and the limit holds
            // even while QEMU keeps its output open.
            process.ErrorDataReceived += (_, _) => { };
            process.BeginErrorReadLine();
            var copy = process.StandardOutput.BaseStream.CopyToAsync(console);
            if (!process.WaitForExit(limit))
            {
                process.Kill(entireProcessTree: true);
            }

            copy.Wait();
            process.WaitForExit();
            return (clock.Elapsed, process.ExitCode);
        }
    }

    /// <summary>
    /// One bench ROM as guests/README.md runs it (<c>-bios</c>, isa-debug-exit at 0xF4). isa-debug-exit makes QEMU's
    /// status (v &lt;&lt; 1) | 1, the same status our harness reports.
    /// </summary>
    public static (TimeSpan Elapsed, int ExitStatus)? RunRom(string rom) =>
        Run(["-machine", "pc", "-cpu", "qemu64", "-accel", "tcg", "-m", "64", "-bios", rom, "-display", "none", "-monitor", "none",
            "-debugcon", "stdio", "-serial", "none", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-no-reboot"], Stream.Null, TimeSpan.FromMinutes(5));
}
