using CocoLaunch.Attestation.ReferenceValues;
using CocoLaunch.Cli.Reports;
using CommandLine;

namespace CocoLaunch.Cli.Verbs;

[Verb("reference-values", HelpText = "Write the expected launch measurements of specs as a JSON document (or trustee's RVPS message), optionally CMS-signed.")]
public sealed class ReferenceValuesOptions : CommonOptions
{
    [Value(0, MetaName = "SPEC", Min = 1, Required = true, HelpText = "One or more launch specs.")]
    public IEnumerable<string> Specs { get; set; } = [];

    [Option("out", HelpText = "Write the document here (default: standard output). Needed when signing.")]
    public string? Out { get; set; }

    [Option("format", Default = "cocolaunch", HelpText = "cocolaunch (the full document) or trustee (an RVPS 'sample' message).")]
    public string Format { get; set; } = "cocolaunch";

    [Option("sign-cert", HelpText = "Sign with this certificate, PEM or DER (with --sign-key, its PEM private key).")]
    public string? SignCert { get; set; }

    [Option("sign-key", HelpText = "The PEM private key of --sign-cert.")]
    public string? SignKey { get; set; }

    [Option("signature", Default = "detached", HelpText = "detached (OUT plus OUT.p7s) or enveloping (OUT is a CMS message carrying the document).")]
    public string Signature { get; set; } = "detached";

    [Option("no-log", HelpText = "Leave out the log of measured operations (verify then cannot name the first one that differs).")]
    public bool NoLog { get; set; }
}

internal static class ReferenceValuesVerb
{
    public static int Run(ReferenceValuesOptions o, TextWriter stdout)
    {
        if (o.Format is not ("cocolaunch" or "trustee"))
        {
            throw new CliInputException($"--format: '{o.Format}' is not one of: cocolaunch, trustee");
        }

        if (o.Signature is not ("detached" or "enveloping"))
        {
            throw new CliInputException($"--signature: '{o.Signature}' is not one of: detached, enveloping");
        }

        bool sign = o.SignCert is not null || o.SignKey is not null;
        if (sign && (o.SignCert is null || o.SignKey is null))
        {
            throw new CliInputException("--sign-cert and --sign-key go together");
        }

        if (sign && o.Out is null)
        {
            throw new CliInputException("signing needs --out: the signature is written beside the document");
        }

        var signer = sign ? DocumentSignature.LoadSigner(o.SignCert!, o.SignKey!) : null;
        // Each spec is launched on its own core; the document keeps the order given.
        var references = SpecBatch.Map(o.Specs.ToList(), s => ReferenceValueBuilder.Build(s, withLog: !o.NoLog).Value).ToList();
        var duplicate = references.GroupBy(r => r.Name).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new CliInputException($"two specs are named '{duplicate.Key}': reference values are looked up by spec name, so names must differ");
        }

        var doc = new ReferenceValueDocument(CliApp.Version, references);
        byte[] bytes = o.Format == "trustee" ? ReferenceValueJson.WriteTrustee(doc) : ReferenceValueJson.Write(doc);
        if (o.Out is null)
        {
            stdout.Write(System.Text.Encoding.UTF8.GetString(bytes));
            return ExitCode.Ok;
        }

        try
        {
            if (signer is null)
            {
                File.WriteAllBytes(o.Out, bytes);
                stdout.WriteLine($"wrote {o.Out}: {references.Count} reference value(s)");
            }
            else if (o.Signature == "detached")
            {
                File.WriteAllBytes(o.Out, bytes);
                File.WriteAllBytes(o.Out + ".p7s", DocumentSignature.Sign(bytes, signer, detached: true));
                stdout.WriteLine($"wrote {o.Out}: {references.Count} reference value(s), and {o.Out}.p7s: its detached CMS signature by {signer.Subject}");
            }
            else
            {
                File.WriteAllBytes(o.Out, DocumentSignature.Sign(bytes, signer, detached: false));
                stdout.WriteLine($"wrote {o.Out}: a CMS message by {signer.Subject} enveloping {references.Count} reference value(s)");
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliInputException($"--out: cannot write '{o.Out}': {e.Message}");
        }

        return ExitCode.Ok;
    }
}
