namespace CocoLaunch.Cli;

/// <summary>cocolaunch's exit codes: CI pipelines tell "the check failed" apart from "the input is wrong".</summary>
public static class ExitCode
{
    public const int Ok = 0;

    /// <summary>A check failed: a digest differs, a verification did not hold.</summary>
    public const int CheckFailed = 1;

    /// <summary>Bad input: usage, spec, firmware or another input file.</summary>
    public const int InputError = 2;

    /// <summary>A bug in cocolaunch itself; the message asks for --verbose and a report.</summary>
    public const int InternalError = 3;
}

/// <summary>An input problem found by the CLI itself (rather than by a parser with its own exception type).</summary>
public sealed class CliInputException(string message) : Exception(message);
