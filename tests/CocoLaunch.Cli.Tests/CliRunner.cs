namespace CocoLaunch.Cli.Tests;

/// <summary>Runs the CLI in-process and captures what it prints.</summary>
internal static class CliRunner
{
    public static CliResult Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int exit = CliApp.Run(args, stdout, stderr);
        return new CliResult(exit, stdout.ToString(), stderr.ToString());
    }
}

internal sealed record CliResult(int Exit, string Stdout, string Stderr)
{
    /// <summary>The single line written to stderr; fails the test if there is not exactly one.</summary>
    public string ErrorLine
    {
        get
        {
            var lines = Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.True(lines.Length == 1, $"expected one stderr line, got {lines.Length}:\n{Stderr}");
            return lines[0].TrimEnd('\r');
        }
    }
}
