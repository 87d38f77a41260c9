using System.Security.Cryptography;
using CocoLaunch.Firmware.Snp;
using CommandLine;

namespace CocoLaunch.Cli.Verbs;

[Verb("id-block", HelpText = "Build an SNP ID block and its ID authentication information, signed with ECDSA P-384 keys in PEM.")]
public sealed class IdBlockOptions : CommonOptions
{
    [Option("measurement", Required = true, HelpText = "The expected launch digest: 96 hex digits or 64 base64 characters.")]
    public string Measurement { get; set; } = string.Empty;

    [Option("id-key", Required = true, HelpText = "The ID key: a P-384 private key in PEM (SEC1 or PKCS#8).")]
    public string IdKey { get; set; } = string.Empty;

    [Option("author-key", HelpText = "An author key (P-384 PEM) that signs the ID key.")]
    public string? AuthorKey { get; set; }

    [Option("policy", Default = "0x30000", HelpText = "The guest policy the launch must have (any base).")]
    public string Policy { get; set; } = "0x30000";

    [Option("family-id", HelpText = "FAMILY_ID: 32 hex digits (default zeros).")]
    public string? FamilyId { get; set; }

    [Option("image-id", HelpText = "IMAGE_ID: 32 hex digits (default zeros).")]
    public string? ImageId { get; set; }

    [Option("guest-svn", Default = 0u, HelpText = "GUEST_SVN.")]
    public uint GuestSvn { get; set; }

    [Option("format", Default = "qemu", HelpText = "qemu (id-block=…,id-auth=… and the key digests) or yaml (snp.id-block and snp.id-auth keys for a launch spec).")]
    public string Format { get; set; } = "qemu";
}

internal static class IdBlockVerb
{
    public static int Run(IdBlockOptions o, TextWriter stdout)
    {
        if (o.Format is not ("qemu" or "yaml"))
        {
            throw new CliInputException($"--format: '{o.Format}' is not one of: qemu, yaml");
        }

        var block = new IdBlock(Digest(o.Measurement), Id(o.FamilyId, "--family-id"), Id(o.ImageId, "--image-id"), o.GuestSvn, CliArguments.Number(o.Policy, "--policy")).ToBytes();
        using var idKey = Key(o.IdKey, "--id-key");
        using var authorKey = o.AuthorKey is null ? null : Key(o.AuthorKey, "--author-key");
        byte[] auth = IdAuth.Build(block, idKey, authorKey);
        if (o.Format == "yaml")
        {
            stdout.WriteLine($"  id-block: {Convert.ToBase64String(block)}");
            stdout.WriteLine($"  id-auth: {Convert.ToBase64String(auth)}");
            return ExitCode.Ok;
        }

        stdout.WriteLine($"id-block={Convert.ToBase64String(block)},id-auth={Convert.ToBase64String(auth)}");
        stdout.WriteLine($"id-key-digest: {Convert.ToHexStringLower(SHA384.HashData(IdAuth.IdKey(auth)))}");
        if (authorKey is not null)
        {
            stdout.WriteLine($"author-key-digest: {Convert.ToHexStringLower(SHA384.HashData(IdAuth.AuthorKey(auth)))}");
        }

        return ExitCode.Ok;
    }

    private static byte[] Digest(string text)
    {
        if (text.Length == 96 && CliArguments.HexBytes(text, 48) is { } hex)
        {
            return hex;
        }

        var bytes = new byte[48];
        return Convert.TryFromBase64String(text, bytes, out int n) && n == 48
            ? bytes
            : throw new CliInputException($"--measurement: expected a 48-byte launch digest as 96 hex digits or base64, got '{text}'");
    }

    private static byte[] Id(string? hex, string option) =>
        hex is null ? new byte[16]
        : hex.Length == 32 && CliArguments.HexBytes(hex, 16) is { } id ? id
        : throw new CliInputException($"{option}: expected 16 bytes as 32 hex digits, got '{hex}'");

    private static ECDsa Key(string path, string option)
    {
        string pem;
        try
        {
            pem = Abi.IO.InputFile.ReadAllText(path, Abi.IO.InputFile.TextLimit, "key");
        }
        catch (Abi.IO.InputFileException e)
        {
            throw new CliInputException($"{option}: '{path}' {e.Problem}");
        }

        var key = ECDsa.Create();
        try
        {
            key.ImportFromPem(pem);
        }
        catch (Exception e) when (e is ArgumentException or CryptographicException)
        {
            key.Dispose();
            throw new CliInputException($"{path}: not an EC private key in PEM ({e.Message})");
        }

        if (key.KeySize != 384)
        {
            key.Dispose();
            throw new CliInputException($"{path}: the key is on a {key.KeySize}-bit curve; SNP ID and author keys are P-384");
        }

        return key;
    }
}
