using System.Globalization;
using System.Text.RegularExpressions;
using CocoLaunch.Abi;
using CocoLaunch.Abi.Measurement;
using CocoLaunch.Spec;
using CommandLine;

namespace CocoLaunch.Cli.Verbs;

[Verb("diff", HelpText = "Compare two launches' measurement logs and name the first operation where they diverge.")]
public sealed class DiffOptions : CommonOptions
{
    [Value(0, MetaName = "A", Required = true, HelpText = "A launch spec (.yaml) or a log written by 'measure --explain'.")]
    public string A { get; set; } = string.Empty;

    [Value(1, MetaName = "B", Required = true, HelpText = "The other spec or log.")]
    public string B { get; set; } = string.Empty;
}

internal static partial class DiffVerb
{
    public static int Run(DiffOptions o, TextWriter stdout)
    {
        var (a, eventsA) = Load(o.A);
        var (b, eventsB) = Load(o.B);
        int? first = MeasurementLog.FirstDivergence(a, b);
        if (first is null)
        {
            stdout.WriteLine($"identical: {a.Count} measured operations");
            return eventsA is null || eventsB is null ? ExitCode.Ok : DiffEvents(eventsA, eventsB, stdout);
        }

        int i = first.Value;
        stdout.WriteLine($"first divergence at operation {i} (A has {a.Count}, B has {b.Count}):");
        stdout.WriteLine($"  A: {(i < a.Count ? a[i].ToLine() : "(end of log)")}");
        stdout.WriteLine($"  B: {(i < b.Count ? b[i].ToLine() : "(end of log)")}");
        return ExitCode.CheckFailed;
    }

    /// <summary>
    /// Two TDs with the same MRTD may still differ in what their firmware measures into RTMRs (the TD HOB: memory):
    /// where the launch decides those events, the first that differs is named.
    /// </summary>
    private static int DiffEvents(IReadOnlyList<Formats.Tcg.LoggedEvent> loggedA, IReadOnlyList<Formats.Tcg.LoggedEvent> loggedB, TextWriter stdout)
    {
        var a = loggedA.Select(Reports.RtmrEvents.Of).ToList();
        var b = loggedB.Select(Reports.RtmrEvents.Of).ToList();
        if (Reports.RtmrEvents.FirstDifference(a, b) is not int i)
        {
            stdout.WriteLine($"identical: {a.Count} RTMR events");
            return ExitCode.Ok;
        }

        stdout.WriteLine($"first divergence at RTMR event {i + 1} (A has {a.Count}, B has {b.Count}):");
        stdout.WriteLine($"  A: {Reports.RtmrEvents.Describe(a, i)}");
        stdout.WriteLine($"  B: {Reports.RtmrEvents.Describe(b, i)}");
        return ExitCode.CheckFailed;
    }

    private static (IReadOnlyList<MeasuredOperation> Operations, IReadOnlyList<Formats.Tcg.LoggedEvent>? Events) Load(string path)
    {
        if (path.EndsWith(".yaml", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".yml", StringComparison.OrdinalIgnoreCase))
        {
            var context = MeasureVerb.Launch(LaunchSpecParser.Load(path), path);
            return (context.Log.Operations, Vmm.Tdx.TdxRtmrReplay.LoggedEvents(context));
        }

        string[] lines;
        try
        {
            lines = Abi.IO.InputFile.ReadAllText(path, Abi.IO.InputFile.DocumentLimit, "measure --explain log").Split('\n').Select(l => l.TrimEnd('\r')).ToArray();
        }
        catch (Abi.IO.InputFileException e)
        {
            throw new CliInputException(e.Message);
        }

        var ops = new List<MeasuredOperation>();
        for (int n = 0; n < lines.Length; n++)
        {
            var m = LogLine().Match(lines[n]);
            if (m.Success)
            {
                // The pattern admits any run of digits; a value past its field's range is a line no launch writes.
                if (!long.TryParse(m.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture, out long index)
                    || !ulong.TryParse(m.Groups[3].Value, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong gpa)
                    || !int.TryParse(m.Groups[4].Value, NumberStyles.None, CultureInfo.InvariantCulture, out int bytes))
                {
                    throw new CliInputException($"{path}:{n + 1}: a number in this 'measure --explain' line is out of range");
                }

                ops.Add(new MeasuredOperation(index, m.Groups[2].Value, new Gpa(gpa), m.Groups[5].Value, bytes));
            }
            else if (!DigestLine().IsMatch(lines[n]) && lines[n].Length > 0)
            {
                throw new CliInputException($"{path}:{n + 1}: not a line of 'measure --explain' output");
            }
        }

        return (ops, null);
    }

    // [0-9], not \d: \d also matches other scripts' digits (U+FF12), which no parser of numbers here reads.
    [GeneratedRegex(@"^\s*([0-9]+) (\S+)\s+gpa=0x([0-9a-f]+) bytes=([0-9]+)\s*(.*)$")]
    private static partial Regex LogLine();

    [GeneratedRegex(@"^[0-9a-f]{96}$|^[A-Za-z0-9+/=]{64}$")]
    private static partial Regex DigestLine();
}
