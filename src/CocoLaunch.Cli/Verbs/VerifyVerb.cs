using System.Text.Json;
using CocoLaunch.Abi.Measurement;
using CocoLaunch.Attestation.ReferenceValues;
using CocoLaunch.Cli.Reports;
using CommandLine;

namespace CocoLaunch.Cli.Verbs;

[Verb("verify", HelpText = "Recompute a spec's launch digest and compare it with an expected value or signed reference values: exit 0 on a match, 1 on a mismatch.")]
public sealed class VerifyOptions : CommonOptions
{
    [Value(0, MetaName = "SPEC", Min = 1, Required = true, HelpText = "The launch spec, or several: verified in parallel and printed in the order given, each line prefixed with its spec (json: one line per spec); the exit code is the worst.")]
    public IEnumerable<string> Specs { get; set; } = [];

    /// <summary>The one spec this run verifies (of <see cref="Specs"/>).</summary>
    public string Spec { get; set; } = string.Empty;

    /// <summary>A copy for one of several specs: each runs on its own thread, so none writes to a shared one.</summary>
    internal VerifyOptions For(string spec)
    {
        var copy = (VerifyOptions)MemberwiseClone();
        copy.Spec = spec;
        return copy;
    }

    [Option("expected", HelpText = "The expected digest in hex (MEASUREMENT or MRTD).")]
    public string? Expected { get; set; }

    [Option("reference-values", HelpText = "A reference-value document (JSON, signed beside it as FILE.p7s, or a CMS message enveloping it).")]
    public string? ReferenceValues { get; set; }

    [Option("reference", HelpText = "With --reference-values: the entry to compare with, when its name is not the spec's.")]
    public string? Reference { get; set; }

    [Option("signature", HelpText = "The detached signature of --reference-values, when it is not FILE.p7s.")]
    public string? Signature { get; set; }

    [Option("trust", HelpText = "A certificate (PEM or DER) the document's signer must chain to; then an unsigned document is refused.")]
    public string? Trust { get; set; }

    [Option("format", HelpText = "text (the default) or json.")]
    public OutputFormat Format { get; set; }
}

internal static class VerifyVerb
{
    public static int Run(VerifyOptions o, TextWriter stdout, TextWriter stderr)
    {
        var specs = o.Specs.ToList();
        if (specs.Count > 1 && o.Reference is not null)
        {
            throw new CliInputException("--reference names one entry for one spec; with several specs each is looked up by its own name");
        }

        return SpecBatch.Run(specs, o.Format == OutputFormat.Json, o.Verbose, stdout, stderr, (spec, writer) => RunOne(o.For(spec), writer));
    }

    private static int RunOne(VerifyOptions o, TextWriter stdout)
    {
        if ((o.Expected is null) == (o.ReferenceValues is null))
        {
            throw new CliInputException("verify needs exactly one of --expected HEX and --reference-values FILE");
        }

        if (o.Expected is not null && (o.Signature is not null || o.Trust is not null || o.Reference is not null))
        {
            throw new CliInputException("--signature, --trust and --reference belong to --reference-values");
        }

        string? expectedHex = o.Expected is null ? null : ParseDigest(o.Expected);
        var loaded = o.ReferenceValues is null ? null : ReferenceValueLoader.Load(o.ReferenceValues, o.Signature, o.Trust);
        var (actual, _) = ReferenceValueBuilder.Build(o.Spec, withLog: true);
        var reference = loaded is null ? null : ReferenceValueLoader.For(loaded.Document, actual.Name, actual.Platform, o.ReferenceValues!, o.Reference);
        if (expectedHex is not null && expectedHex.Length != actual.Digest.Length)
        {
            // A digest of another length cannot be this platform's: a wrong input, not a mismatch.
            string digestName = actual.Platform == "tdx" ? "MRTD" : "MEASUREMENT";
            throw new CliInputException($"--expected: {expectedHex.Length / 2} bytes given, but a {actual.Platform} {digestName} is {actual.Digest.Length / 2} bytes ({actual.Digest.Length} hex digits)");
        }

        string expected = expectedHex ?? reference!.Digest;
        bool digestMatch = expected == actual.Digest;
        // Reference values that fix RTMRs (a TD whose firmware events the launch decides) must match those too.
        int rtmr = reference?.Rtmrs is { Count: 4 } wantRtmrs && reference.RtmrEvents is not null && actual.Rtmrs is { Count: 4 } gotRtmrs
            ? Enumerable.Range(0, 4).FirstOrDefault(r => wantRtmrs[r] != gotRtmrs[r], -1)
            : -1;
        bool match = digestMatch && rtmr < 0;
        int? divergence = reference?.Log is { } log ? MeasurementLog.FirstDivergence(log, actual.Log!) : null;
        var inputs = reference?.Inputs.Select(i => (i.Role, Expected: i.Sha256, Actual: actual.Inputs.FirstOrDefault(a => a.Role == i.Role)?.Sha256)).ToList() ?? [];

        if (o.Format == OutputFormat.Json)
        {
            var json = new VerifyJson(
                o.Spec,
                reference?.Name,
                actual.Platform,
                match,
                expected,
                actual.Digest,
                loaded?.Signer?.Subject,
                loaded?.Trusted ?? false,
                divergence is int d ? new DivergenceJson(d, Line(reference!.Log!, d), Line(actual.Log!, d)) : null,
                rtmr >= 0 ? new RtmrMismatchJson(rtmr, reference!.Rtmrs![rtmr], actual.Rtmrs![rtmr], FirstEvent(reference.RtmrEvents!, actual.RtmrEvents ?? [])) : null,
                inputs.Select(i => new InputJson(i.Role, i.Expected, i.Actual, i.Expected == i.Actual)));
            stdout.WriteLine(JsonSerializer.Serialize(json, CliJson.Default.VerifyJson));
            return match ? ExitCode.Ok : ExitCode.CheckFailed;
        }

        string what = actual.Platform == "tdx" ? "MRTD" : "MEASUREMENT";
        if (loaded?.Signer is { } signer)
        {
            stdout.WriteLine($"reference values signed by {signer.Subject}{(loaded.Trusted ? ", trusted" : " (not checked against a trust anchor: give --trust)")}");
        }

        if (digestMatch)
        {
            stdout.WriteLine($"match: {actual.Name} {what} {actual.Digest}");
            if (rtmr < 0)
            {
                return ExitCode.Ok;
            }

            stdout.WriteLine($"MISMATCH: {actual.Name} RTMR{rtmr}");
            stdout.WriteLine($"  expected: {reference!.Rtmrs![rtmr]}");
            stdout.WriteLine($"  actual:   {actual.Rtmrs![rtmr]}");
            stdout.WriteLine($"  {FirstEvent(reference.RtmrEvents!, actual.RtmrEvents ?? [])}");
            return ExitCode.CheckFailed;
        }

        stdout.WriteLine($"MISMATCH: {actual.Name} {what}");
        stdout.WriteLine($"  expected: {expected}");
        stdout.WriteLine($"  actual:   {actual.Digest}");
        foreach (var (role, want, got) in inputs.Where(i => i.Expected != i.Actual))
        {
            stdout.WriteLine($"  input {role} changed: sha256 {want} -> {got ?? "(none)"}");
        }

        if (divergence is int i)
        {
            stdout.WriteLine($"  first divergent measured operation, {i} (the reference has {reference!.Log!.Count}, this launch {actual.Log!.Count}):");
            stdout.WriteLine($"    expected: {Line(reference.Log, i)}");
            stdout.WriteLine($"    actual:   {Line(actual.Log!, i)}");
        }
        else if (reference?.Log is null)
        {
            stdout.WriteLine("  (no log of measured operations to compare: give --reference-values written without --no-log)");
        }

        return ExitCode.CheckFailed;
    }

    /// <summary>The first RTMR event that differs, in words.</summary>
    private static string FirstEvent(IReadOnlyList<ReferenceEvent> expected, IReadOnlyList<ReferenceEvent> actual) =>
        RtmrEvents.FirstDifference(expected, actual) is int i
            ? $"first differing RTMR event {i + 1}: expected {RtmrEvents.Describe(expected, i)}, actual {RtmrEvents.Describe(actual, i)}"
            : "the RTMR events are the same; the registers differ";

    private static string Line(IReadOnlyList<MeasuredOperation> log, int i) =>
        i < log.Count ? $"{log[i].ToLine()} content={log[i].Content ?? 0:x16}" : "(end of log)";

    private static string ParseDigest(string hex)
    {
        string digits = (hex.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? hex[2..] : hex).ToLowerInvariant();
        return digits.Length is 64 or 96 && digits.All(char.IsAsciiHexDigit)
            ? digits
            : throw new CliInputException($"--expected: '{hex}' is not a digest (96 hex digits for MRTD or MEASUREMENT, 64 for SEV)");
    }
}
