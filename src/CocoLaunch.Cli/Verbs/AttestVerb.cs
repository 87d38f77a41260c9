using CocoLaunch.Abi;
using CocoLaunch.Attestation;
using CocoLaunch.Attestation.Tdx;
using CocoLaunch.Spec;
using CommandLine;

namespace CocoLaunch.Cli.Verbs;

[Verb("attest", HelpText = "After an emulated launch, write the attestation evidence in the real formats (SNP report, or TDREPORT and TDX quote) with its TEST certificate chain.")]
public sealed class AttestOptions : CommonOptions
{
    [Value(0, MetaName = "SPEC", Required = true, HelpText = "The launch spec (snp or tdx).")]
    public string Spec { get; set; } = string.Empty;

    [Option("report-data", HelpText = "64 bytes as 128 hex digits for REPORT_DATA / REPORTDATA (default zeros).")]
    public string? ReportData { get; set; }

    [Option("vmpl", Default = 0u, HelpText = "SNP: the VMPL the report is requested from (0–3).")]
    public uint Vmpl { get; set; }

    [Option("out", Required = true, HelpText = "The directory to write the evidence and its chain into (created if missing).")]
    public string Out { get; set; } = string.Empty;
}

internal static class AttestVerb
{
    public static int Run(AttestOptions o, TextWriter stdout)
    {
        byte[] reportData = o.ReportData is null ? new byte[64]
            : CliArguments.HexBytes(o.ReportData, 64) ?? throw new CliInputException($"--report-data: expected 64 bytes as 128 hex digits, got {o.ReportData.Length} characters");
        if (o.Vmpl > 3)
        {
            throw new CliInputException($"--vmpl: {o.Vmpl} is not 0 to 3");
        }

        var spec = LaunchSpecParser.Load(o.Spec);
        if (spec.Platform is not (KvmVmType.Snp or KvmVmType.Tdx))
        {
            throw new CliInputException($"{o.Spec}: attestation evidence exists for snp and tdx guests, not {spec.Platform.Name()}");
        }

        var context = MeasureVerb.Launch(spec, o.Spec);
        var files = new List<(string Name, byte[] Bytes)>();
        if (spec.Platform == KvmVmType.Snp)
        {
            files.Add(("report.bin", context.RequireVm().Snp!.Report(reportData, o.Vmpl)));
            files.Add(("vcek.pem", TestChain.PemBytes("snp-test-vcek.pem")));
            files.Add(("ask.pem", TestChain.PemBytes("snp-test-ask.pem")));
            files.Add(("ark.pem", TestChain.PemBytes("snp-test-ark.pem")));
        }
        else
        {
            if (o.Vmpl != 0)
            {
                throw new CliInputException("--vmpl: VMPLs are an SNP notion");
            }

            var report = context.RequireVm().Td!.Report(reportData);
            files.Add(("tdreport.bin", report));
            files.Add(("quote.bin", EmulatedQuotingEnclave.Quote(report)));
            files.Add(("root.pem", TestChain.PemBytes("tdx-test-root.pem")));
        }

        try
        {
            Directory.CreateDirectory(o.Out);
            foreach (var (name, bytes) in files)
            {
                File.WriteAllBytes(Path.Combine(o.Out, name), bytes);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliInputException($"--out: cannot write into '{o.Out}': {e.Message}");
        }

        stdout.WriteLine($"wrote {string.Join(", ", files.Select(f => Path.Combine(o.Out, f.Name)))}");
        stdout.WriteLine($"signed with CocoLaunch TEST keys: they verify against {Path.Combine(o.Out, spec.Platform == KvmVmType.Snp ? "ark.pem" : "root.pem")}, never against AMD's or Intel's roots");
        return ExitCode.Ok;
    }

}
