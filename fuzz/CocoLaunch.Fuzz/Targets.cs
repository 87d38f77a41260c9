using CocoLaunch.Cli;

namespace CocoLaunch.Fuzz;

/// <summary>
/// A crash as the CLI's contract defines one: exit 3 (an exception other than the documented input-error types
/// escaped a verb), an exception out of <see cref="CliApp.Run"/> itself, or an input error (exit 2) that is not
/// exactly one "cocolaunch: " line on stderr.
/// </summary>
public sealed class FuzzCrashException(string message) : Exception(message);

/// <summary>
/// One harness per input format. Each writes the input to a file in a private work directory and runs the verb a
/// user would run on it through <see cref="CliApp.Run"/>, the CLI's own entry: the same parsing, the same mapping of
/// exception types to exit codes. Fixed companions (firmware the specs name, certificate chains, a signed document)
/// come from the repository and are linked into the work directory.
/// </summary>
public sealed class Targets : IDisposable
{
    public static readonly string[] Names = ["spec", "firmware", "kernel", "snp-report", "tdx-quote", "reference-values", "cms", "tdx-collateral", "crl", "ccel", "igvm", "igvm-crc"];

    /// <summary>Certificates are checked at a fixed time so that a run does not depend on the day (the evidence is from 2022-2023).</summary>
    private const string At = "2025-06-01T00:00:00Z";

    private readonly string target;
    private readonly string work;
    private readonly string repo;

    public Targets(string target)
    {
        this.target = target;
        repo = FindRepo();
        string baseDir = Environment.GetEnvironmentVariable("COCOLAUNCH_FUZZ_TMP") ?? Path.GetTempPath();
        work = Path.Combine(baseDir, $"cocolaunch-fuzz-{target}-{Environment.ProcessId}");
        Directory.CreateDirectory(work);
        Directory.CreateDirectory(Path.Combine(work, "subdir"));
        foreach (var (name, path) in Fixtures())
        {
            string link = Path.Combine(work, name);
            if (!File.Exists(link))
            {
                File.CreateSymbolicLink(link, Path.Combine(repo, path));
            }
        }
    }

    /// <summary>Files the seeds and the fixed arguments name, by the short names the spec seeds use.</summary>
    private static IEnumerable<(string Name, string Path)> Fixtures()
    {
        const string Debian = "firmware/debian-ovmf-2022.11-6+deb12u2/";
        foreach (string f in new[] { "OVMF.fd", "OVMF_CODE.fd", "OVMF_VARS.fd" })
        {
            yield return (f, Debian + f);
        }

        foreach (string f in new[] { "amdsev-like.fd", "ovmfx64-like.fd", "caa.fd", "unordered.fd", "kernel_1MiB.bin", "initrd_320KiB.bin" })
        {
            yield return (f, "firmware/synthetic/" + f);
        }

        yield return ("snp.fd", "samples/snp/bin/snp.fd");
        yield return ("tdx-4k.fd", "samples/tdx-4k/bin/tdx-4k.fd");
        yield return ("ark.pem", "tests/data/attestation/snp-go-sev-guest/ark.pem");
        yield return ("ask.pem", "tests/data/attestation/snp-go-sev-guest/ask.pem");
        yield return ("vcek.der", "tests/data/attestation/snp-go-sev-guest/vcek.der");
        yield return ("report.bin", "tests/data/attestation/snp-go-sev-guest/report.bin");
        yield return ("intel-root.pem", "tests/data/attestation/tdx-go-tdx-guest/intel_sgx_root_ca.pem");
        yield return ("quote.bin", "tests/data/attestation/tdx-dcap-qvl/quote.bin");
        yield return ("linux-tdx-quote.bin", "fuzz/fixtures/linux-tdx-quote.bin");
        yield return ("linux-tdx-quote.bin.root.pem", "fuzz/fixtures/linux-tdx-quote.bin.root.pem");
        yield return ("ca.pem", "samples/ci/test-keys/ca.pem");
        yield return ("signed.json", "fuzz/fixtures/signed.json");
    }

    /// <summary>Runs the target on one input; returns the last exit code, throws <see cref="FuzzCrashException"/> on a crash.</summary>
    public int Run(byte[] input) => target switch
    {
        // The spec: validate parses it, checks its files and the firmware against the platform, and plans memory.
        "spec" => Cli(Write("spec.yaml", input), "validate", "{0}"),

        // OVMF GUID table, TDVF and SEV metadata: inspect (every structure, text and JSON), inspect for one platform,
        // and validate, which also places the sections in a memory plan. The input is the end of the image: OVMF's
        // structures are found from its last bytes, so it is left-padded with zeros to whole 4 KiB pages.
        "firmware" => Firmware(input),

        // A bzImage: validate of a firmwareless spec naming it (setup header, then the boot layout), then a bounded
        // direct boot, which builds boot_params from the header and runs whatever the image holds.
        "kernel" => Kernel(input),

        // Evidence: verify-evidence tells the kind by its header, so each target reaches both parsers; the seeds
        // differ. The chain is the real one that belongs with the seed evidence.
        "snp-report" => Cli(Write("evidence.bin", input), "verify-evidence", "{0}", "--root", W("ark.pem"), "--vcek", W("vcek.der"), "--ask", W("ask.pem"),
            "--measurement", new string('0', 96), "--min-tcb", "bl=2,tee=0,snp=5,ucode=68", "--vmpl", "0,1", "--at", At),
        "tdx-quote" => Cli(Write("evidence.bin", input), "verify-evidence", "{0}", "--root", W("intel-root.pem"), "--measurement", new string('0', 96),
            "--report-data", new string('0', 128), "--at", At),

        // Reference values, JSON or a CMS message enveloping JSON (the loader decides by the first byte), checked
        // against a real SNP report.
        "reference-values" => Cli(Write("rv.json", input), "verify-evidence", W("report.bin"), "--root", W("ark.pem"), "--vcek", W("vcek.der"), "--ask", W("ask.pem"),
            "--reference-values", "{0}", "--at", At),

        // CMS SignedData: as a detached signature of a fixed document, then as an enveloping message, both with --trust.
        "cms" => Cms(input),

        // Intel's collateral in dcap-qvl's one-file JSON (TCB info, QE identity, signatures, issuer chain, hex CRLs),
        // checked against the real quote it belongs with, inside its period.
        "tdx-collateral" => Cli(Write("collateral.json", input), "verify-evidence", W("quote.bin"), "--root", W("intel-root.pem"), "--collateral", "{0}",
            "--no-measurement-check", "--at", "2025-07-01T00:00:00Z"),

        // A CRL, DER or PEM, against a real TDX quote's chain and a real SNP report's.
        "crl" => Crl(input),

        // A CC event log: eventlog prints and replays it (text and JSON), and verify-evidence replays it against the
        // quote our Linux TD got, whose reference value names its events.
        "ccel" => EventLog(input),

        // An IGVM file: inspect reads every header with the format's rules, as text and JSON. The name ends in .fd
        // so that only the magic, not the extension, sends it to the IGVM reader.
        "igvm" => Igvm(input),

        // The same IGVM file with its fixed header made consistent after afl's mutation (total_file_size and the
        // CRC-32), so that mutations reach the header rules and the launch instead of the checksum; then inspect and
        // measure for both platforms (the emulated launch of the file's directives).
        "igvm-crc" => IgvmPastChecksum(input),
        _ => throw new InvalidOperationException(target),
    };

    private int EventLog(byte[] input)
    {
        string log = Write("ccel.bin", input);
        Cli(log, "eventlog", "{0}");
        Cli(log, "eventlog", "{0}", "--format", "json");
        return Cli(log, "verify-evidence", W("linux-tdx-quote.bin"), "--root", W("linux-tdx-quote.bin.root.pem"), "--event-log", "{0}", "--no-measurement-check");
    }

    private int Igvm(byte[] input)
    {
        string file = Write("guest.fd", input);
        Cli(file, "inspect", "{0}");
        return Cli(file, "inspect", "{0}", "--format", "json");
    }

    private int IgvmPastChecksum(byte[] input)
    {
        string file = Write("guest.igvm", IgvmChecksum.Fix(input));
        Cli(file, "inspect", "{0}");
        Cli(file, "inspect", "{0}", "--format", "json");
        Cli(file, "measure", "{0}", "--platform", "snp");
        return Cli(file, "measure", "{0}", "--platform", "tdx");
    }

    private int Firmware(byte[] input)
    {
        int padded = (input.Length + 0xFFF) & ~0xFFF;
        byte[] image = new byte[padded];
        input.CopyTo(image, padded - input.Length);
        string fw = Write("fw.fd", image);
        Cli(fw, "inspect", "{0}");
        Cli(fw, "inspect", "{0}", "--format", "json", "--platform", "tdx");
        Cli(fw, "inspect", "{0}", "--platform", "snp");
        Cli(Write("tdx.yaml", "platform: tdx\nfirmware: fw.fd\nmemory: 2G\n"u8.ToArray()), "validate", "{0}");
        return Cli(Write("snp.yaml", "platform: snp\nfirmware: fw.fd\nmemory: 2G\nsnp: { vcpu-type: EPYC-v4 }\n"u8.ToArray()), "validate", "{0}");
    }

    private int Kernel(byte[] input)
    {
        string kernel = Write("vmlinuz", input);
        Cli(Write("linux.yaml", "platform: default\nkernel: vmlinuz\ninitrd: initrd_320KiB.bin\ncmdline: console=ttyS0\nmemory: 256M\n"u8.ToArray()), "validate", "{0}");
        return Cli(kernel, "boot", "--kernel", "{0}", "--initrd", W("initrd_320KiB.bin"), "--max-instructions", "200000", "--timeout", "5");
    }

    private int Cms(byte[] input)
    {
        Cli(Write("signed.json.p7s", input), "verify-evidence", W("report.bin"), "--root", W("ark.pem"), "--vcek", W("vcek.der"), "--ask", W("ask.pem"),
            "--reference-values", W("signed.json"), "--signature", "{0}", "--trust", W("ca.pem"), "--at", At);
        return Cli(Write("enveloped.p7m", input), "verify-evidence", W("report.bin"), "--root", W("ark.pem"), "--vcek", W("vcek.der"), "--ask", W("ask.pem"),
            "--reference-values", "{0}", "--trust", W("ca.pem"), "--at", At);
    }

    private int Crl(byte[] input)
    {
        string crl = Write("list.crl", input);
        Cli(crl, "verify-evidence", W("quote.bin"), "--root", W("intel-root.pem"), "--crl", "{0}", "--no-measurement-check", "--at", "2025-07-01T00:00:00Z");
        return Cli(crl, "verify-evidence", W("report.bin"), "--root", W("ark.pem"), "--vcek", W("vcek.der"), "--ask", W("ask.pem"), "--crl", "{0}",
            "--no-measurement-check", "--at", At);
    }

    private string W(string name) => Path.Combine(work, name);

    private string Write(string name, byte[] bytes)
    {
        string path = W(name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    /// <summary>Runs cocolaunch with "{0}" replaced by <paramref name="file"/>, and applies the crash rules.</summary>
    private static int Cli(string file, params string[] args)
    {
        string[] argv = [.. args.Select(a => a == "{0}" ? file : a)];
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int exit = CliApp.Run(argv, stdout, stderr);
        if (exit == ExitCode.InternalError)
        {
            // Again with --verbose, for the stack trace (a crash is rare; the normal path stays quiet).
            var verbose = new StringWriter();
            CliApp.Run([.. argv, "--verbose"], new StringWriter(), verbose);
            throw new FuzzCrashException($"exit 3 from cocolaunch {string.Join(' ', argv)}:\n{verbose}");
        }

        if (exit == ExitCode.InputError)
        {
            string[] lines = stderr.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
            if (lines.Length != 1 || !lines[0].StartsWith(CliApp.Name + ": ", StringComparison.Ordinal))
            {
                throw new FuzzCrashException($"exit 2 without exactly one '{CliApp.Name}: ' line from cocolaunch {string.Join(' ', argv)}:\n{stderr}");
            }
        }

        return exit;
    }

    private static string FindRepo()
    {
        string? env = Environment.GetEnvironmentVariable("COCOLAUNCH_REPO");
        if (env is not null)
        {
            return env;
        }

        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "CocoLaunch.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("CocoLaunch.Fuzz: cannot find the repository (CocoLaunch.sln above the program); set COCOLAUNCH_REPO");
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(work, recursive: true);
        }
        catch (IOException)
        {
            // A work directory left behind in the temp folder is harmless.
        }
    }
}
