using CocoLaunch.Abi.IO;
using System.Security.Cryptography.X509Certificates;
using CocoLaunch.Attestation;
using CocoLaunch.Attestation.ReferenceValues;
using CocoLaunch.Attestation.Snp;

namespace CocoLaunch.Cli.Reports;

/// <summary>What a signed or unsigned reference-value file says, and who signed it.</summary>
internal sealed record LoadedReferences(ReferenceValueDocument Document, X509Certificate2? Signer, bool Trusted);

/// <summary>
/// Reads reference values for verify and verify-evidence: a JSON document (with FILE.p7s or --signature beside it
/// when signed), or a CMS message enveloping one. With --trust the signature must exist and chain to the anchor;
/// any signature problem is an input error.
/// </summary>
internal static class ReferenceValueLoader
{
    public static LoadedReferences Load(string path, string? signaturePath, string? trustPath)
    {
        byte[] file = Read(path, "--reference-values");
        var trust = trustPath is null ? null : SnpEvidenceVerifier.LoadCertificate(Read(trustPath, "--trust"), trustPath);
        var start = file.AsSpan().TrimStart(" \t\r\n"u8);
        bool json = start.StartsWith("{"u8);
        if (start.StartsWith("["u8) || start.StartsWith("\""u8))
        {
            throw new CliInputException($"{path}: not a reference-value document (a JSON object) nor a CMS message enveloping one");
        }

        byte[] content = file;
        X509Certificate2? signer = null;
        if (!json)
        {
            (content, signer) = DocumentSignature.Verify(file, null, trust, DateTimeOffset.UtcNow, path);
        }
        else if ((signaturePath ?? (File.Exists(path + ".p7s") ? path + ".p7s" : null)) is { } sig)
        {
            (_, signer) = DocumentSignature.Verify(Read(sig, "--signature"), file, trust, DateTimeOffset.UtcNow, sig);
        }
        else if (trust is not null)
        {
            throw new CliInputException($"{path}: --trust asks for a signed document, but there is no {Path.GetFileName(path)}.p7s beside it (or give --signature)");
        }

        return new LoadedReferences(ReferenceValueJson.Read(content, path), signer, signer is not null && trust is not null);
    }

    /// <summary>
    /// The reference for a spec: the entry the user selected, else the one named as the spec. Never a guess: the only
    /// entry of the platform under another name may describe another image, so a name mismatch is an input error.
    /// </summary>
    public static ReferenceValue For(ReferenceValueDocument doc, string name, string platform, string path, string? selected = null)
    {
        string wanted = selected ?? name;
        var reference = doc.References.FirstOrDefault(r => r.Name == wanted)
            ?? throw new CliInputException(selected is not null
                ? $"{path}: --reference: no reference value named '{selected}' (it has: {string.Join(", ", doc.References.Select(r => r.Name))})"
                : $"{path}: no reference value named '{name}', the spec's name (it has: {string.Join(", ", doc.References.Select(r => r.Name))}); select one with --reference NAME");
        return reference.Platform == platform
            ? reference
            : throw new CliInputException($"{path}: reference value '{reference.Name}' is for platform {reference.Platform}, but the spec's platform is {platform}");
    }

    public static byte[] Read(string path, string option)
    {
        try
        {
            return InputFile.ReadAllBytes(path, InputFile.DocumentLimit, "input");
        }
        catch (InputFileException e)
        {
            throw new CliInputException($"{option}: '{path}' {e.Problem}");
        }
    }
}
