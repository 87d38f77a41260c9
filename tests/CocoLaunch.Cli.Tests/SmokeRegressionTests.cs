using CocoLaunch.Tests.Shared;

namespace CocoLaunch.Cli.Tests;

/// <summary>What the mutation smoke run (<see cref="MutationSmokeTests"/>) found, one regression test each.</summary>
public sealed class SmokeRegressionTests
{
    private const string FirstLine = "       0 MEM.PAGE.ADD  gpa=0x0000ffe20000 bytes=128  TDVF #0 BFV";

    [Theory]
    [InlineData("       0 MEM.PAGE.ADD  gpa=0x0000ffe20000 bytes=99999999999  TDVF #0 BFV")] // bytes past int: OverflowException
    [InlineData("99999999999999999999 MR.EXTEND  gpa=0x0000ffe20000 bytes=384  TDVF #0 BFV")] // index past long
    [InlineData("       1 MR.EXTEND     gpa=0x1ffffffffffffffff bytes=384  TDVF #0 BFV")] // GPA past 64 bits
    public void Diff_LogLineWithANumberOutOfRange_Exit2NamingTheLine(string line)
    {
        using var dir = new TempDir();
        string log = dir.Write("bad.log", $"{FirstLine}\n{line}\n");
        var result = CliRunner.Run("diff", log, log);
        Assert.Equal((2, $"cocolaunch: {log}:2: a number in this 'measure --explain' line is out of range"), (result.Exit, result.ErrorLine));
    }

    [Fact]
    public void Diff_LogLineWithAFullWidthDigit_IsNotALogLine()
    {
        // \d matched U+FF12, which long.Parse then refused with a FormatException (exit 3).
        using var dir = new TempDir();
        string log = dir.Write("bad.log", $"{FirstLine}\n       \uFF12 MR.EXTEND     gpa=0x0000ffe20000 bytes=384  TDVF #0 BFV\n");
        var result = CliRunner.Run("diff", log, log);
        Assert.Equal((2, $"cocolaunch: {log}:2: not a line of 'measure --explain' output"), (result.Exit, result.ErrorLine));
    }

    [Fact]
    public void DetachedSignature_SignerCertificateWithAGarbledValidity_Exit2NamingTheCertificate()
    {
        // The CMS decodes and its signature verifies (the certificate is not what it signs), but the signer's
        // notBefore is not a time: X509Certificate2.NotBefore threw a CryptographicException (exit 3).
        using var dir = new TempDir();
        string Key(string n) => Path.Combine(RepoPaths.Root, "samples", "ci", "test-keys", n);
        string refs = Path.Combine(dir.Path, "refs.json");
        Assert.Equal(0, CliRunner.Run("reference-values", RepoPaths.LaunchSpec("tdx-4k-sample.yaml"), "--out", refs, "--no-log", "--sign-cert", Key("signer.pem"), "--sign-key", Key("signer.key")).Exit);
        byte[] p7s = File.ReadAllBytes(refs + ".p7s");
        int validity = IndexOfUtcTime(p7s);
        p7s[validity + 2] = (byte)'x'; // the first digit of the year
        File.WriteAllBytes(refs + ".p7s", p7s);

        string quote = Path.Combine(RepoPaths.Root, "tests", "data", "attestation", "tdx-go-tdx-guest", "quote.bin");
        var result = CliRunner.Run("verify-evidence", quote, "--root", Path.Combine(RepoPaths.Root, "tests", "data", "attestation", "tdx-go-tdx-guest", "intel_sgx_root_ca.pem"),
            "--reference-values", refs, "--trust", Key("ca.pem"));
        Assert.Equal(2, result.Exit);
        Assert.StartsWith($"cocolaunch: {refs}.p7s: the signer is not trusted: certificate #0 of the chain (leaf first) cannot be read: ", result.ErrorLine, StringComparison.Ordinal);
    }

    /// <summary>The first UTCTime (tag 0x17, 13 bytes "YYMMDDhhmmssZ") in the DER: the signer certificate's notBefore.</summary>
    private static int IndexOfUtcTime(byte[] der)
    {
        for (int i = 0; i + 15 <= der.Length; i++)
        {
            if (der[i] == 0x17 && der[i + 1] == 13 && der[i + 14] == (byte)'Z' && der.AsSpan(i + 2, 12).IndexOfAnyExceptInRange((byte)'0', (byte)'9') < 0)
            {
                return i;
            }
        }

        throw new InvalidOperationException("no UTCTime in the signature");
    }
}
