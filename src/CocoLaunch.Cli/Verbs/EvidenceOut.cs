using CocoLaunch.Attestation;
using CocoLaunch.Vmm.Run;

namespace CocoLaunch.Cli.Verbs;

/// <summary>
/// launch --evidence-out: the last evidence the guest obtained from inside, with the TEST certificates it verifies
/// against written beside it, named as <c>attest</c> names them so <c>verify-evidence</c> finds them: a TD's quote
/// with FILE.root.pem; an SNP report with vcek.pem, ask.pem and ark.pem in FILE's directory, where
/// <c>verify-evidence</c> looks for the VCEK and ASK by default.
/// </summary>
internal static class EvidenceOut
{
    /// <summary>Writes the files; the line that names them and their root.</summary>
    public static string Write(GuestEvidence evidence, string path)
    {
        string dir = Path.GetDirectoryName(path) ?? string.Empty; // as the user wrote it: "report.bin" gives "ark.pem"
        var files = new List<(string Path, byte[] Bytes)> { (path, evidence.Bytes) };
        string root, what, written = path;
        if (evidence.Kind == EvidenceKind.SnpReport)
        {
            files.Add((Path.Combine(dir, "vcek.pem"), TestChain.PemBytes("snp-test-vcek.pem")));
            files.Add((Path.Combine(dir, "ask.pem"), TestChain.PemBytes("snp-test-ask.pem")));
            files.Add((root = Path.Combine(dir, "ark.pem"), TestChain.PemBytes("snp-test-ark.pem")));
            (what, written) = ("the guest's last attestation report, signed by the emulated VCEK with CocoLaunch TEST keys", $"{path} and vcek.pem, ask.pem, ark.pem beside it");
        }
        else
        {
            files.Add((root = path + ".root.pem", TestChain.PemBytes("tdx-test-root.pem")));
            what = "the guest's last quote, signed with CocoLaunch TEST keys";
        }

        foreach (var (file, bytes) in files)
        {
            try
            {
                File.WriteAllBytes(file, bytes);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new CliInputException($"--evidence-out: cannot write {file}: {e.Message}");
            }
        }

        string vendor = evidence.Kind == EvidenceKind.SnpReport ? "AMD's ARK" : "Intel's root";
        return $"wrote {written} ({what}: it verifies against {root}, never against {vendor})";
    }

}
