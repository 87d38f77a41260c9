using System.Text.Json;
using CocoLaunch.Cli.Reports;
using CocoLaunch.Formats.Tcg;
using CommandLine;

namespace CocoLaunch.Cli.Verbs;

[Verb("eventlog", HelpText = "Print a CC event log (a TDX guest's CCEL log, /sys/firmware/acpi/tables/data/CCEL): every event with its MR index, type, digest and decoded data, and the RTMRs its replay gives.")]
public sealed class EventLogOptions : CommonOptions
{
    [Value(0, MetaName = "FILE", Required = true, HelpText = "The event log (the CCEL table's log area).")]
    public string File { get; set; } = string.Empty;

    [Option("format", HelpText = "text (the default) or json.")]
    public OutputFormat Format { get; set; }
}

internal static class EventLogVerb
{
    public static int Run(EventLogOptions o, TextWriter stdout)
    {
        var log = Load(o.File, "FILE");
        bool sha384 = log.Algorithms.Any(a => a.Algorithm == TcgAlgorithm.Sha384);
        // A CC log indexes MRs 1-4 (MRTD, index 0, is never extended at run time); a TPM log's PCR indexes go 0-23.
        var pcrEvent = log.Events.FirstOrDefault(e => e.MrIndex == 0 || e.MrIndex > 4);
        string?[] rtmrs = sha384 && pcrEvent is null ? log.Replay().Select(Convert.ToHexStringLower).ToArray() : new string?[4];
        if (o.Format == OutputFormat.Json)
        {
            var json = new EventLogJson(
                o.File,
                log.Algorithms.Select(a => TcgAlgorithm.Name(a.Algorithm)),
                log.Events.Select(e => new EventJson(
                    e.Offset,
                    e.MrIndex,
                    e.TypeName,
                    e.Type,
                    e.Digests.Select(d => new DigestJson(TcgAlgorithm.Name(d.Algorithm), Convert.ToHexStringLower(d.Bytes))),
                    EventData.Describe(e),
                    Convert.ToBase64String(e.Data))),
                log.Length,
                rtmrs[0],
                rtmrs[1],
                rtmrs[2],
                rtmrs[3]);
            stdout.WriteLine(JsonSerializer.Serialize(json, CliJson.Relaxed.EventLogJson));
            return ExitCode.Ok;
        }

        stdout.WriteLine($"{o.File}: {log.Events.Count} events after the Spec ID event ({string.Join(", ", log.Algorithms.Select(a => TcgAlgorithm.Name(a.Algorithm)))}), {log.Length} bytes");
        foreach (var e in log.Events)
        {
            string digest = e.Digest(TcgAlgorithm.Sha384) is { } d ? Convert.ToHexStringLower(d) : string.Join(" ", e.Digests.Select(x => $"{TcgAlgorithm.Name(x.Algorithm)}:{Convert.ToHexStringLower(x.Bytes)}"));
            stdout.WriteLine($"0x{e.Offset:x5}  MR{e.MrIndex}  {e.TypeName,-34} {digest}");
            stdout.WriteLine($"         {EventData.Describe(e)}");
        }

        if (!sha384)
        {
            stdout.WriteLine("RTMRs not replayed: the log has no SHA-384 digests (TDX RTMRs are SHA-384)");
        }
        else if (pcrEvent is not null)
        {
            stdout.WriteLine($"RTMRs not replayed: the event at 0x{pcrEvent.Offset:x} has index {pcrEvent.MrIndex}, a TPM PCR; a CC log's MR indexes are 1 to 4");
        }

        for (int i = 0; i < rtmrs.Length && rtmrs[i] is not null; i++)
        {
            stdout.WriteLine($"RTMR{i} {rtmrs[i]}");
        }

        return ExitCode.Ok;
    }

    /// <summary>Reads and parses a log; a malformed one is an input error naming the file and offset.</summary>
    public static CcEventLog Load(string path, string what)
    {
        byte[] bytes = Reports.ReferenceValueLoader.Read(path, what);
        try
        {
            return CcEventLog.Parse(bytes, path);
        }
        catch (EventLogFormatException e)
        {
            throw new CliInputException(e.Message);
        }
    }
}
