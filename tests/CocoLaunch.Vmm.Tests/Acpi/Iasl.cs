using System.Diagnostics;

namespace CocoLaunch.Vmm.Tests.Acpi;

/// <summary>ACPICA's compiler/disassembler, found on PATH.</summary>
internal static class Iasl
{
    public static string? Path { get; } = Find();

    /// <summary>Runs <c>iasl -d</c> on <paramref name="tableFile"/> and returns the .dsl text it wrote.</summary>
    public static string Disassemble(string tableFile)
    {
        var start = new ProcessStartInfo(Path!, ["-d", tableFile])
        {
            WorkingDirectory = System.IO.Path.GetDirectoryName(tableFile)!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        string output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
        process.WaitForExit();
        string dsl = System.IO.Path.ChangeExtension(tableFile, ".dsl");
        Assert.True(process.ExitCode == 0 && File.Exists(dsl), $"iasl -d failed ({process.ExitCode}):\n{output}");
        return File.ReadAllText(dsl);
    }

    private static string? Find() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(System.IO.Path.PathSeparator)
            .Select(dir => System.IO.Path.Combine(dir, "iasl"))
            .FirstOrDefault(File.Exists);
}
