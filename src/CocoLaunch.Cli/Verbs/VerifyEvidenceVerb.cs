using System.Globalization;
using System.Text.Json;
using CocoLaunch.Attestation;
using CocoLaunch.Attestation.ReferenceValues;
using CocoLaunch.Attestation.Snp;
using CocoLaunch.Attestation.Tdx;
using CocoLaunch.Cli.Reports;
using CommandLine;

namespace CocoLaunch.Cli.Verbs;

[Verb("verify-evidence", HelpText = "Verify an SNP attestation report or a TDX quote: the signature chain up to a root, the measurement against reference values, and policy rules. Works on real hardware evidence.")]
public sealed class VerifyEvidenceOptions : CommonOptions
{
    [Value(0, MetaName = "EVIDENCE", Required = true, HelpText = "An SNP report (0x4A0 bytes) or a TDX quote (v4/v5).")]
    public string Evidence { get; set; } = string.Empty;

    [Option("root", Required = true, HelpText = "The root to chain to: AMD's ARK or Intel's SGX root CA for real evidence, or the test root 'attest' wrote.")]
    public string Root { get; set; } = string.Empty;

    [Option("vcek", HelpText = "SNP: the VCEK certificate (PEM or DER; default: vcek.pem, else vcek.der, beside the report).")]
    public string? Vcek { get; set; }

    [Option("ask", HelpText = "SNP: the ASK certificate (PEM or DER; default: ask.pem, else ask.der, beside the report).")]
    public string? Ask { get; set; }

    [Option("vlek", HelpText = "SNP: the VLEK certificate of a VLEK-signed report (PEM or DER; default: vlek.pem, else vlek.der, beside a report whose KEY_INFO names the VLEK).")]
    public string? Vlek { get; set; }

    [Option("asvk", HelpText = "SNP: the ASVK (SEV-VLEK-<product>) that issued the VLEK (PEM or DER; default: asvk.pem, else asvk.der, beside the report).")]
    public string? Asvk { get; set; }

    [Option("crl", HelpText = "CRLs (DER or PEM) to check the chains against: AMD's from KDS, or Intel's Root CA and PCK CA CRLs. Each must be signed by a certificate of the verification and be current.")]
    public IEnumerable<string> Crls { get; set; } = [];

    [Option("tcb-info", HelpText = "TDX: Intel's TCB info for the platform, as PCS returns it from /tdx/certification/v4/tcb (JSON). Needs --tcb-signing-chain.")]
    public string? TcbInfo { get; set; }

    [Option("qe-identity", HelpText = "TDX: Intel's QE identity, as PCS returns it from /tdx/certification/v4/qe/identity (JSON). Needs --tcb-signing-chain.")]
    public string? QeIdentity { get; set; }

    [Option("tcb-signing-chain", HelpText = "TDX: the Intel SGX TCB Signing certificate and the root (PEM), as PCS sends them in its TCB-Info-Issuer-Chain header.")]
    public string? TcbSigningChain { get; set; }

    [Option("collateral", HelpText = "TDX: all of Intel's collateral in one JSON document, as dcap-qvl's get_collateral writes it (tcb_info, qe_identity, their signatures and issuer chain, root_ca_crl, pck_crl).")]
    public string? Collateral { get; set; }

    [Option("tcb-status", Separator = ',', HelpText = "TDX with collateral: the TCB statuses accepted, comma-separated (default: UpToDate), e.g. UpToDate,SWHardeningNeeded.")]
    public IEnumerable<string> TcbStatuses { get; set; } = [];

    [Option("reference-values", HelpText = "Acceptable measurements: a reference-value document (signed or not, as for verify).")]
    public string? ReferenceValues { get; set; }

    [Option("signature", HelpText = "The detached signature of --reference-values, when it is not FILE.p7s.")]
    public string? Signature { get; set; }

    [Option("trust", HelpText = "A certificate (PEM or DER) the reference values' signer must chain to.")]
    public string? Trust { get; set; }

    [Option("measurement", Separator = ',', HelpText = "Acceptable measurements in hex, comma-separated (instead of, or besides, --reference-values).")]
    public IEnumerable<string> Measurements { get; set; } = [];

    [Option("no-measurement-check", HelpText = "Accept evidence without comparing its measurement with any reference value (the output says so). Without it, no --measurement or --reference-values is a failed check.")]
    public bool NoMeasurementCheck { get; set; }

    [Option("allow-debug", HelpText = "Accept evidence from a guest whose policy or attributes allow debugging.")]
    public bool AllowDebug { get; set; }

    [Option("min-tcb", HelpText = "SNP: minimum SPLs, e.g. bl=3,tee=0,snp=8,ucode=115 (each compared on its own).")]
    public string? MinTcb { get; set; }

    [Option("vmpl", Separator = ',', HelpText = "SNP: the VMPLs a report may come from, e.g. 0 or 0,1.")]
    public IEnumerable<uint> Vmpls { get; set; } = [];

    [Option("report-data", HelpText = "The 64 bytes (128 hex digits) the evidence must carry.")]
    public string? ReportData { get; set; }

    [Option("at", HelpText = "Check certificate validity at this UTC time (ISO 8601) instead of now.")]
    public string? At { get; set; }

    [Option("event-log", HelpText = "TDX: the guest's CC event log (its CCEL log area); its replay must give the quote's RTMR0-3.")]
    public string? EventLog { get; set; }

    [Option("format", HelpText = "text (the default) or json.")]
    public OutputFormat Format { get; set; }
}

internal static class VerifyEvidenceVerb
{
    public static int Run(VerifyEvidenceOptions o, TextWriter stdout)
    {
        var policy = Policy(o, out var references);
        byte[] evidence = ReferenceValueLoader.Read(o.Evidence, "EVIDENCE");
        var kind = EvidenceKinds.Detect(evidence, o.Evidence);
        EvidenceInputs.RejectOptionsOfTheOtherKind(o, kind);
        var root = Certificate(o.Root, "--root");
        string dir = Path.GetDirectoryName(Path.GetFullPath(o.Evidence))!;
        VerificationResult result;
        if (kind == EvidenceKind.SnpReport)
        {
            if (o.EventLog is not null)
            {
                throw new CliInputException("--event-log: a CC event log replays to a TDX quote's RTMRs; an SNP report has none");
            }

            var report = SnpReport.Parse(evidence, o.Evidence);
            var certificates = EvidenceInputs.SnpCertificates(o, report, root, dir);
            result = SnpEvidenceVerifier.Verify(report, certificates, policy with { Measurements = Measurements(policy, references, "snp") });
        }
        else
        {
            var quote = TdxQuote.Parse(evidence, o.Evidence);
            var matched = Matched(references, quote);
            var collateral = EvidenceInputs.IntelCollateral(o);
            result = TdxQuoteVerifier.Verify(quote, root, policy with { Measurements = Measurements(policy, references, "tdx"), Rtmrs = policy.Rtmrs ?? matched?.Rtmrs }, o.Evidence, collateral);
            if (o.EventLog is { } logPath)
            {
                var log = EventLogVerb.Load(logPath, "--event-log");
                result = result with { Findings = [.. result.Findings, EventLogFindings.Replayed(log, quote), .. matched?.RtmrEvents is { } expected ? [EventLogFindings.EventsMatch(log, expected)] : Array.Empty<Finding>()] };
            }
        }

        result = WithMeasurementRule(result, o);
        if (o.Format == OutputFormat.Json)
        {
            var json = new EvidenceJson(o.Evidence, result.Kind, result.Passed, result.Findings.Select(f => new FindingJson(f.Check, f.Passed, f.Detail)));
            stdout.WriteLine(JsonSerializer.Serialize(json, CliJson.Relaxed.EvidenceJson));
        }
        else
        {
            foreach (var f in result.Findings)
            {
                stdout.WriteLine($"{(f.Passed ? "ok  " : "FAIL")} {f.Check}: {f.Detail}");
            }

            var failed = result.Findings.Where(f => !f.Passed).Select(f => f.Check).ToList();
            stdout.WriteLine(failed.Count > 0 ? $"NOT verified: {o.Evidence}: {string.Join(", ", failed)}"
                : o.NoMeasurementCheck ? $"verified, measurement NOT checked: {o.Evidence}" : $"verified: {o.Evidence}");
        }

        return result.Passed ? ExitCode.Ok : ExitCode.CheckFailed;
    }

    /// <summary>
    /// Evidence whose measurement nobody compared proves only that some guest ran on genuine hardware, so calling it
    /// "verified" needs the user's explicit --no-measurement-check; without it the missing check is a failed finding
    /// (exit 1), listed with the checks that ran. With it, a finding says the measurement was not checked.
    /// </summary>
    private static VerificationResult WithMeasurementRule(VerificationResult result, VerifyEvidenceOptions o)
    {
        bool measured = result.Findings.Any(f => f.Check == "measurement");
        if (measured && o.NoMeasurementCheck)
        {
            throw new CliInputException("--no-measurement-check contradicts --measurement and --reference-values; give one or the other");
        }

        if (measured)
        {
            return result;
        }

        // Where the verifiers list a measurement check: after the signatures, before the policy rules.
        var findings = result.Findings.ToList();
        int at = findings.FindIndex(f => f.Check.StartsWith("policy.", StringComparison.Ordinal) || f.Check.StartsWith("rtmr", StringComparison.Ordinal));
        findings.Insert(at < 0 ? findings.Count : at, o.NoMeasurementCheck
            ? new Finding("measurement", true, "NOT checked (--no-measurement-check): any launch digest is accepted")
            : new Finding("measurement", false, "not checked: give --measurement or --reference-values, or --no-measurement-check to accept any launch digest"));
        return new VerificationResult(result.Kind, findings);
    }

    private static EvidencePolicy Policy(VerifyEvidenceOptions o, out LoadedReferences? references)
    {
        var at = o.At is null ? (DateTimeOffset?)null
            : DateTimeOffset.TryParse(o.At, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t) ? t
            : throw new CliInputException($"--at: '{o.At}' is not a date and time (e.g. 2026-01-31T12:00:00Z)");
        byte[]? reportData = o.ReportData is null ? null
            : CliArguments.HexBytes(o.ReportData, 64) ?? throw new CliInputException($"--report-data: expected 64 bytes as 128 hex digits, got {o.ReportData.Length} characters");
        var vmpls = o.Vmpls.ToHashSet();
        if (vmpls.Any(v => v > 3))
        {
            throw new CliInputException($"--vmpl: {vmpls.First(v => v > 3)} is not 0 to 3");
        }

        references = o.ReferenceValues is null ? null : ReferenceValueLoader.Load(o.ReferenceValues, o.Signature, o.Trust);
        if (o.ReferenceValues is null && (o.Signature is not null || o.Trust is not null))
        {
            throw new CliInputException("--signature and --trust belong to --reference-values");
        }

        var measurements = o.Measurements.Select(m => m.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? m[2..].ToLowerInvariant() : m.ToLowerInvariant()).ToHashSet();
        if (measurements.FirstOrDefault(m => m.Length != 96 || !m.All(char.IsAsciiHexDigit)) is { } bad)
        {
            throw new CliInputException($"--measurement: '{bad}' is not 96 hex digits");
        }

        return new EvidencePolicy(measurements.Count > 0 ? measurements : null, o.AllowDebug, MinTcb(o.MinTcb), vmpls.Count > 0 ? vmpls : null, reportData, null, at, EvidenceInputs.TcbStatuses(o));
    }

    /// <summary>The measurements given on the command line and those of the reference values for the platform; null when neither gave any.</summary>
    /// <summary>
    /// The reference value whose MRTD the quote carries: its RTMRs, when it gives them, must match too, since MRTD
    /// alone leaves out what the firmware measured into RTMRs (the TD HOB, for one).
    /// </summary>
    private static ReferenceValue? Matched(LoadedReferences? references, TdxQuote quote)
    {
        string mrtd = Convert.ToHexStringLower(quote.Mrtd);
        return references?.Document.References.FirstOrDefault(r => r.Platform == "tdx" && r.Digest == mrtd && r.Rtmrs is { Count: 4 });
    }


    private static HashSet<string>? Measurements(EvidencePolicy policy, LoadedReferences? references, string platform)
    {
        var all = new HashSet<string>(policy.Measurements ?? new HashSet<string>());
        foreach (var r in references?.Document.References.Where(r => r.Platform == platform) ?? [])
        {
            all.Add(r.Digest);
        }

        if (references is not null && all.Count == 0)
        {
            throw new CliInputException($"--reference-values: the document has no {platform} reference value");
        }

        return all.Count > 0 ? all : null;
    }

    private static Dictionary<string, int>? MinTcb(string? text)
    {
        if (text is null)
        {
            return null;
        }

        var floors = new Dictionary<string, int>();
        foreach (string part in text.Split(','))
        {
            var kv = part.Split('=');
            if (kv.Length != 2 || !TcbVersion.Components.Contains(kv[0]) || !int.TryParse(kv[1], CultureInfo.InvariantCulture, out int v) || v is < 0 or > 255)
            {
                throw new CliInputException($"--min-tcb: '{part}' is not COMPONENT=SPL with a component of {string.Join(", ", TcbVersion.Components)} and an SPL of 0 to 255");
            }

            floors[kv[0]] = v;
        }

        return floors;
    }

    internal static System.Security.Cryptography.X509Certificates.X509Certificate2 Certificate(string path, string option) =>
        SnpEvidenceVerifier.LoadCertificate(ReferenceValueLoader.Read(path, option), path);
}
