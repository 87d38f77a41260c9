namespace CocoLaunch.Spec;

/// <summary>An invalid launch spec, located by file, line and column (both 1-based; line 0 when the file itself is the problem).</summary>
public sealed class SpecException(string file, long line, long column, string problem)
    : Exception(line > 0 ? $"{file}:{line}:{column}: {problem}" : $"{file}: {problem}")
{
    public string File { get; } = file;

    public long Line { get; } = line;

    public long Column { get; } = column;

    public string Problem { get; } = problem;
}
