using CommandLine;

namespace CocoLaunch.Cli.Verbs;

/// <summary>Options every verb takes.</summary>
public abstract class CommonOptions
{
    [Option("verbose", HelpText = "On an error, also print the exception's details.")]
    public bool Verbose { get; set; }
}

public enum OutputFormat
{
    Text,
    Json,
}
