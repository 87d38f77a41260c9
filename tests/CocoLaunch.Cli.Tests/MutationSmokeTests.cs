using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using CocoLaunch.Tests.Shared;
using Xunit.Abstractions;

namespace CocoLaunch.Cli.Tests;

/// <summary>
/// The CI smoke run of the robustness rules: every input format the CLI reads, mutated with fixed seeds, through the
/// same entry the `cocolaunch` program uses. Whatever the input, the CLI answers 0, 1 or 2, with at most one line
/// on stderr and no exception type, stack trace or "internal error" anywhere. A failure prints the seed and case
/// (each case has its own generator, <c>new Random(unchecked(seed * 100_003 + case))</c>), the arguments and the output.
/// </summary>
/// <remarks>Thousands of cases in well under a minute: the verbs run are the cheap ones (validate, inspect, diff,
/// verify-evidence); a few launches (measure) check that what validate accepts, measure runs.</remarks>
[Collection(MutationSmokeCollection.Name)]
public sealed class MutationSmokeTests(MutationSmokeInputs inputs, ITestOutputHelper output)
{
    /// <summary>Fixed for CI; COCOLAUNCH_SMOKE_SEED and COCOLAUNCH_SMOKE_SCALE (a case multiplier) run a longer or different search by hand.</summary>
    private static readonly int Seed = int.TryParse(Environment.GetEnvironmentVariable("COCOLAUNCH_SMOKE_SEED"), out int s) ? s : 20261206;

    private static readonly int Scale = int.TryParse(Environment.GetEnvironmentVariable("COCOLAUNCH_SMOKE_SCALE"), out int n) && n > 0 ? n : 1;

    [Fact]
    public void LaunchSpecs_MutatedYaml() => Run("launch-spec", 1800, (rng, i) =>
    {
        var (name, text) = inputs.Specs[i % inputs.Specs.Count];
        string mutated = Mutator.Text(rng, text);
        string path = inputs.Scratch($"spec-{name}", mutated);
        // Every 40th spec of a measured platform that validates is also launched: validate is measure's preflight, so
        // exit 2 there is a gap. (snp-sample-single-socket.yaml is valid and refused by KVM at LAUNCH_START by design.)
        bool measured = !name.StartsWith("default", StringComparison.Ordinal) && !name.StartsWith("sw-protected", StringComparison.Ordinal) && !name.Contains("single-socket", StringComparison.Ordinal);
        if (i % 6 == 5)
        {
            return [["inspect", path]];
        }

        return [["validate", path], .. i % 40 == 0 && measured ? new[] { new[] { "measure", path, "--if-valid" } } : []];
    });

    /// <summary>
    /// The bzImage setup header (boot --kernel): the first 64 KiB of Debian's kernel with its header mutated, booted for
    /// a thousand instructions at most, so a header the parser accepts is laid out and entered too.
    /// </summary>
    [Fact]
    public void Kernels_MutatedBzImageSetupHeader() => Run("bzimage", 300, (rng, i) =>
    {
        var head = inputs.KernelHead;
        string path = inputs.Scratch("vmlinuz", Mutator.Binary(rng, head, [0x1F1, 0x1FE, 0x202, 0x206, 0x211, 0x22C, 0x230, 0x236, 0x238, 0x258, 0x260]));
        return [["boot", "--kernel", path, "--memory", "96M", "--max-instructions", "1000"]];
    });

    [Fact]
    public void Firmware_MutatedOvmfTdvfAndSevMetadata() => Run("firmware", 800, (rng, i) =>
    {
        var (name, bytes, platform) = inputs.Firmware[i % inputs.Firmware.Count];
        string path = inputs.Scratch($"fw-{name}", Mutator.Binary(rng, bytes, inputs.HotSpots[name]));
        string spec = inputs.Scratch($"fwspec-{name}.yaml", $"platform: {platform}\nfirmware: {path}\nvcpus: 2\nmemory: 2G\n{(platform == "snp" ? "snp: { vcpu-type: EPYC-v4 }\n" : string.Empty)}");
        return (i / inputs.Firmware.Count % 4) switch
        {
            0 => [["inspect", path]],
            1 => [["inspect", path, "--format", "json"]],
            2 => [["inspect", path, "--platform", platform]],
            _ => [["validate", spec]],
        };
    });

    /// <summary>
    /// IGVM files (the fuzz seeds, built from igvm_defs' layouts): mutated, and every other case given a correct
    /// checksum again so that the mutation reaches the header rules rather than stopping at the CRC.
    /// </summary>
    [Fact]
    public void Igvm_MutatedHeaders() => Run("igvm", 400, (rng, i) =>
    {
        var seeds = Directory.GetFiles(Path.Combine(RepoPaths.Root, "fuzz", "corpus", "igvm")).Order(StringComparer.Ordinal).ToList();
        byte[] seed = File.ReadAllBytes(seeds[i % seeds.Count]);
        byte[] bytes = Mutator.Binary(rng, seed, [0x0, 0x4, 0x8, 0xC, 0x10, 0x18, 0x20, 0x28, 0x30, 0x38, 0x40]);
        if (i % 2 == 0 && bytes.Length >= 32 && BitConverter.ToUInt32(bytes, 4) is 1 or 2
            && BitConverter.ToUInt32(bytes, 8) + (ulong)BitConverter.ToUInt32(bytes, 12) <= (ulong)bytes.Length)
        {
            IgvmFileBuilder.SetChecksum(bytes);
        }

        string path = inputs.Scratch("guest.igvm", bytes);
        return [["inspect", path, .. i % 3 == 0 ? new[] { "--format", "json" } : []]];
    });

    [Fact]
    public void SnpReports_MutatedRealAndEmulated() => Run("snp-report", 600, (rng, i) =>
    {
        var e = inputs.SnpEvidence[i % inputs.SnpEvidence.Count];
        string path = inputs.Scratch("report.bin", Mutator.Binary(rng, e.Bytes, [0x0, 0x30, 0x90, 0x1A0, 0x2A0]));
        return [["verify-evidence", path, .. e.Args, .. i % 2 == 0 ? new[] { "--format", "json" } : []]];
    });

    [Fact]
    public void TdxQuotes_MutatedRealAndEmulated() => Run("tdx-quote", 600, (rng, i) =>
    {
        var e = inputs.TdxEvidence[i % inputs.TdxEvidence.Count];
        string path = inputs.Scratch("quote.bin", Mutator.Binary(rng, e.Bytes, [0x0, 0x30, 0xB8, 0x278, 0x27C, 0x2BC, 0x3BC, 0x3FC]));
        return [["verify-evidence", path, .. e.Args, .. i % 2 == 0 ? new[] { "--format", "json" } : []]];
    });

    [Fact]
    public void Certificates_MutatedVcekAndRoots() => Run("certificate", 300, (rng, i) =>
    {
        var e = inputs.SnpEvidence[0];
        if (i % 2 == 0)
        {
            string vcek = inputs.Scratch("vcek.der", Mutator.Binary(rng, inputs.RealVcek, [0x0, 0x10, 0x100, 0x200]));
            return [["verify-evidence", e.Path, "--root", inputs.RealArk, "--ask", inputs.RealAsk, "--vcek", vcek, "--at", "2025-06-01T00:00:00Z", "--no-measurement-check", "--allow-debug"]];
        }

        string root = inputs.Scratch("root.pem", Mutator.Text(rng, inputs.TdxRootPem));
        return [["verify-evidence", inputs.TdxEvidence[0].Path, "--root", root, "--no-measurement-check"]];
    });

    [Fact]
    public void ReferenceValues_MutatedJson() => Run("reference-values", 500, (rng, i) =>
    {
        string refs = inputs.Scratch("refs.json", Mutator.Text(rng, inputs.ReferenceJson));
        return [["verify-evidence", inputs.TdxEvidence[0].Path, .. inputs.TdxEvidence[0].RootArgs, "--reference-values", refs]];
    });

    [Fact]
    public void CmsSignatures_MutatedP7s() => Run("cms", 400, (rng, i) =>
    {
        bool enveloping = i % 3 == 2;
        string p7s = inputs.Scratch("refs.p7s", Mutator.Binary(rng, enveloping ? inputs.EnvelopingCms : inputs.DetachedP7s, [0x0, 0x10, 0x40, 0x200]));
        return enveloping
            ? [["verify-evidence", inputs.TdxEvidence[0].Path, .. inputs.TdxEvidence[0].RootArgs, "--reference-values", p7s, "--trust", inputs.CaPem]]
            : [["verify-evidence", inputs.TdxEvidence[0].Path, .. inputs.TdxEvidence[0].RootArgs, "--reference-values", inputs.SignedJson, "--signature", p7s, "--trust", inputs.CaPem]];
    });

    [Fact]
    public void MeasurementLogs_MutatedExplainOutput() => Run("explain-log", 400, (rng, i) =>
    {
        var (name, log) = inputs.Logs[i % inputs.Logs.Count];
        string path = inputs.Scratch($"{name}.log", Mutator.Text(rng, log));
        return [["diff", inputs.LogPaths[name], path]];
    });

    /// <summary>Runs <paramref name="cases"/> cases of one format; each yields one or more command lines.</summary>
    private void Run(string format, int cases, Func<Random, int, string[][]> build)
    {
        var failures = new List<string>();
        var clock = Stopwatch.StartNew();
        int runs = 0;
        cases *= Scale;
        for (int i = 0; i < cases; i++)
        {
            var rng = new Random(unchecked((Seed * 100_003) + i));
            string[][] commands = build(rng, i);
            bool previousOk = true;
            foreach (string[] command in commands)
            {
                bool ifValid = command.Contains("--if-valid");
                if (ifValid && !previousOk)
                {
                    continue;
                }

                string[] args = command.Where(a => a != "--if-valid").ToArray();
                var result = CliRunner.Run(args);
                runs++;
                previousOk = result.Exit == 0;
                string? problem = Problem(result) ?? (ifValid && result.Exit == ExitCode.InputError ? "validate accepted what measure refuses" : null);
                if (problem is not null && failures.Count < 15)
                {
                    // Run again with --verbose for the stack trace of an internal error.
                    string verbose = CliRunner.Run([.. args, "--verbose"]).Stderr;
                    failures.Add($"seed {Seed} case {i} ({format}): {problem}\n  args: {string.Join(' ', args)}\n  input: {Describe(args)}\n  stdout: {Cut(result.Stdout)}\n  stderr: {Cut(result.Stderr)}\n  --verbose: {Cut(verbose, 3000)}");
                }
            }
        }

        output.WriteLine($"{format}: {cases} cases, {runs} runs in {clock.Elapsed.TotalSeconds:0.0} s");
        Assert.True(failures.Count == 0, string.Join("\n\n", failures));
    }

    private static readonly Regex ExceptionName = new(@"\b[A-Z][A-Za-z0-9]*Exception\b", RegexOptions.Compiled);
    private static readonly Regex StackFrame = new(@"^\s+at [\w.`<>|]+[.(]", RegexOptions.Compiled | RegexOptions.Multiline);

    /// <summary>What the run broke of the CLI's contract, or null.</summary>
    internal static string? Problem(CliResult r)
    {
        string all = r.Stdout + r.Stderr;
        int errorLines = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;
        return r.Exit is not (ExitCode.Ok or ExitCode.CheckFailed or ExitCode.InputError) ? $"exit {r.Exit}"
            : all.Contains("internal error", StringComparison.OrdinalIgnoreCase) ? "'internal error' in the output"
            : ExceptionName.Match(all) is { Success: true } m ? $"exception type name '{m.Value}' in the output"
            : StackFrame.IsMatch(all) ? "a stack trace in the output"
            : errorLines > 1 ? $"{errorLines} lines on stderr"
            : null;
    }

    private static string Describe(string[] args)
    {
        var file = args.Skip(1).FirstOrDefault(a => File.Exists(a) && a.Contains("cocolaunch-test-", StringComparison.Ordinal));
        if (file is null)
        {
            return "(none)";
        }

        var bytes = File.ReadAllBytes(file);
        bool text = bytes.Length < 4096 && bytes.All(b => b is >= 0x20 and < 0x7F or (byte)'\n' or (byte)'\t' or (byte)'\r');
        return text ? Cut(Encoding.UTF8.GetString(bytes)) : $"{bytes.Length} bytes, sha256 {Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes))[..16]}…";
    }

    private static string Cut(string s, int max = 600) => s.Length <= max ? s : s[..max] + $"… ({s.Length} characters)";
}

[CollectionDefinition(Name)]
public sealed class MutationSmokeCollection : ICollectionFixture<MutationSmokeInputs>
{
    public const string Name = "mutation smoke";
}

/// <summary>Mutations of text (YAML, JSON, PEM, logs) and binary (firmware, evidence, DER, CMS) inputs.</summary>
internal static class Mutator
{
    private static readonly string[] Tokens =
    [
        "0", "-1", "1", "0x", "0x0", "4K", "2M", "16T", "1P", "8P", "99999999999999999999", "0xffffffffffffffff", "18446744073709551616",
        "-9223372036854775808", "1e309", "NaN", "''", "\"", "'", "[", "]", "{", "}", ":", ": ", "- ", "-", ",", "#", "&a", "*a", "!!binary", "!x", "~",
        "null", "true", "yes", "\t", "\u2028", "\u00e9", "\u202e", "\x00", "\x1b[31m", "\\", "%", "@", "|", ">", "? ", "---", "...", "tdx", "snp", "sev",
        "private", "shared", "EPYC-v4", "/dev/zero", "/", ".", "..", "/proc/self/status", "/tmp", new string('A', 5000), "0x7fffffff", "4294967296",
        "\"\\u0000\"", "{\"a\":1}", "[]", "{}", "1.5", "-0", "00", "0b1", "0o7", "1_000", "２", "Ω",
    ];

    public static string Text(Random rng, string text)
    {
        var s = new StringBuilder(text);
        int edits = 1 + rng.Next(3);
        for (int e = 0; e < edits; e++)
        {
            if (s.Length == 0)
            {
                s.Append(Pick(rng, Tokens));
                continue;
            }

            int at = rng.Next(s.Length);
            switch (rng.Next(10))
            {
                case 0 or 1 or 2:
                    // Replace a token (a run of letters, digits and the characters of numbers and sizes).
                    int start = at, end = at;
                    while (start > 0 && IsWord(s[start - 1]))
                    {
                        start--;
                    }

                    while (end < s.Length && IsWord(s[end]))
                    {
                        end++;
                    }

                    s.Remove(start, end - start).Insert(start, Pick(rng, Tokens));
                    break;
                case 3:
                    s.Insert(at, Pick(rng, Tokens));
                    break;
                case 4:
                    s.Remove(at, Math.Min(s.Length - at, 1 + rng.Next(20)));
                    break;
                case 5:
                    {
                        // Delete or duplicate a line.
                        var lines = s.ToString().Split('\n').ToList();
                        int l = rng.Next(lines.Count);
                        if (rng.Next(2) == 0)
                        {
                            lines.RemoveAt(l);
                        }
                        else
                        {
                            lines.Insert(l, lines[l]);
                        }

                        s.Clear().Append(string.Join('\n', lines));
                        break;
                    }

                case 6:
                    s.Length = at; // truncate
                    break;
                case 7:
                    s[at] = (char)rng.Next(0x00, 0x80);
                    break;
                case 8:
                    // Indentation: YAML's structure.
                    s.Insert(at, rng.Next(2) == 0 ? "  " : "\n ");
                    break;
                default:
                    {
                        int len = Math.Min(s.Length - at, 1 + rng.Next(40));
                        s.Insert(rng.Next(s.Length), s.ToString(at, len));
                        break;
                    }
            }
        }

        return s.ToString();
    }

    private static bool IsWord(char c) => char.IsLetterOrDigit(c) || c is '_' or '-' or '.';

    private static readonly ulong[] Interesting = [0, 1, 0x7F, 0x80, 0xFF, 0x100, 0xFFF, 0x1000, 0x7FFF, 0x8000, 0xFFFF, 0x10000, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 0x1_0000_0000, 0xFFFF_F000, 0xFFE0_0000, 0x8000_0000_0000_0000, ulong.MaxValue];

    /// <summary>Mutates bytes; most edits land near <paramref name="hot"/> offsets (headers, tables, signatures).</summary>
    public static byte[] Binary(Random rng, byte[] input, IReadOnlyList<int> hot)
    {
        var b = new List<byte>(input.Length + 64);
        byte[] bytes = (byte[])input.Clone();
        int edits = 1 + rng.Next(4);
        for (int e = 0; e < edits; e++)
        {
            if (bytes.Length == 0)
            {
                bytes = [(byte)rng.Next(256)];
                continue;
            }

            int at = hot.Count > 0 && rng.Next(5) != 0
                ? Math.Clamp(hot[rng.Next(hot.Count)] + rng.Next(-16, 0x200), 0, bytes.Length - 1)
                : rng.Next(bytes.Length);
            switch (rng.Next(9))
            {
                case 0 or 1:
                    bytes[at] ^= (byte)(1 << rng.Next(8));
                    break;
                case 2:
                    bytes[at] = (byte)Interesting[rng.Next(6)];
                    break;
                case 3 or 4:
                    {
                        ulong v = rng.Next(4) == 0 ? (ulong)input.Length + (ulong)rng.Next(-8, 8) : Interesting[rng.Next(Interesting.Length)];
                        int width = rng.Next(3) switch { 0 => 2, 1 => 4, _ => 8 };
                        for (int k = 0; k < width && at + k < bytes.Length; k++)
                        {
                            bytes[at + k] = (byte)(v >> (8 * k));
                        }

                        break;
                    }

                case 5:
                    Array.Resize(ref bytes, rng.Next(bytes.Length)); // truncate
                    break;
                case 6:
                    {
                        // Remove a range (shifts everything after it).
                        int len = Math.Min(bytes.Length - at, 1 + rng.Next(64));
                        bytes = [.. bytes.AsSpan(0, at), .. bytes.AsSpan(at + len)];
                        break;
                    }

                case 7:
                    {
                        var junk = new byte[1 + rng.Next(64)];
                        rng.NextBytes(junk);
                        bytes = [.. bytes.AsSpan(0, at), .. junk, .. bytes.AsSpan(at)];
                        break;
                    }

                default:
                    {
                        // Copy a range over another (a plausible length or offset from elsewhere).
                        int len = Math.Min(bytes.Length - at, 1 + rng.Next(32));
                        int to = rng.Next(bytes.Length - len + 1);
                        Array.Copy(bytes, at, bytes, to, len);
                        break;
                    }
            }
        }

        return bytes;
    }

    private static string Pick(Random rng, string[] items) => items[rng.Next(items.Length)];
}

/// <summary>The inputs the smoke run mutates, gathered (and the emulated evidence made) once.</summary>
public sealed class MutationSmokeInputs : IDisposable
{
    private readonly TempDir dir = new();

    public MutationSmokeInputs()
    {
        // The shipped specs, laid out so their relative paths (../firmware, ../samples) still resolve.
        string specs = Directory.CreateDirectory(Path.Combine(dir.Path, "launch-specs")).FullName;
        Directory.CreateSymbolicLink(Path.Combine(dir.Path, "firmware"), Path.Combine(RepoPaths.Root, "firmware"));
        Directory.CreateSymbolicLink(Path.Combine(dir.Path, "samples"), Path.Combine(RepoPaths.Root, "samples"));
        Directory.CreateSymbolicLink(Path.Combine(dir.Path, "guests"), Path.Combine(RepoPaths.Root, "guests"));
        ScratchDir = specs;
        Specs = Directory.GetFiles(Path.Combine(RepoPaths.Root, "launch-specs"), "*.yaml").Order(StringComparer.Ordinal)
            .Select(f => (Path.GetFileName(f), File.ReadAllText(f))).ToList();

        // Firmware: Debian's OVMF (TDVF metadata), the synthetic SEV images (shared/vectors/synthetic).
        Firmware =
        [
            ("OVMF.fd", File.ReadAllBytes(RepoPaths.OvmfFd), "tdx"),
            ("OVMF_CODE.fd", File.ReadAllBytes(RepoPaths.OvmfCodeFd), "snp"),
            .. new[] { "amdsev-like.fd", "caa.fd", "ovmfx64-like.fd", "unordered.fd" }.Select(n => (n, File.ReadAllBytes(SyntheticVector(n)), "snp")),
        ];
        HotSpots = Firmware.ToDictionary(f => f.Name, f => (IReadOnlyList<int>)HotOffsets(f.Bytes));

        // Evidence: real reports and quotes (tests/data/attestation) and the emulator's, each with the arguments that verify it.
        string Data(string p) => Path.Combine(RepoPaths.Root, "tests", "data", "attestation", p);
        RealArk = Data("snp-go-sev-guest/ark.pem");
        RealAsk = Data("snp-go-sev-guest/ask.pem");
        RealVcek = File.ReadAllBytes(Data("snp-go-sev-guest/vcek.der"));
        KernelHead = File.ReadAllBytes(RepoPaths.DebianKernel)[..(64 * 1024)];
        string nonce = string.Concat(Enumerable.Repeat("5a", 64));
        string snp = Directory.CreateDirectory(Path.Combine(dir.Path, "snp")).FullName;
        string tdx = Directory.CreateDirectory(Path.Combine(dir.Path, "tdx")).FullName;
        Require(CliRunner.Run("attest", RepoPaths.LaunchSpec("snp-sample.yaml"), "--report-data", nonce, "--out", snp));
        Require(CliRunner.Run("attest", RepoPaths.LaunchSpec("tdx-4k-sample.yaml"), "--report-data", nonce, "--out", tdx));
        string[] realSnp = ["--ask", RealAsk, "--at", "2025-06-01T00:00:00Z", "--allow-debug", "--no-measurement-check"];
        SnpEvidence =
        [
            new(Data("snp-go-sev-guest/report.bin"), ["--root", RealArk, "--vcek", Data("snp-go-sev-guest/vcek.der"), .. realSnp]),
            new(Data("snp-trustee/report.bin"), ["--root", RealArk, "--vcek", Data("snp-trustee/vcek.der"), .. realSnp]),
            new(Path.Combine(snp, "report.bin"), ["--root", Path.Combine(snp, "ark.pem"), "--vcek", Path.Combine(snp, "vcek.pem"), "--ask", Path.Combine(snp, "ask.pem"), "--report-data", nonce, "--vmpl", "0", "--min-tcb", "bl=3,snp=8", "--measurement", new string('0', 96)]),
        ];
        TdxRootPem = File.ReadAllText(Path.Combine(tdx, "root.pem"));
        TdxEvidence =
        [
            new(Path.Combine(tdx, "quote.bin"), ["--root", Path.Combine(tdx, "root.pem"), "--report-data", nonce, "--no-measurement-check"]) { RootArgs = ["--root", Path.Combine(tdx, "root.pem")] },
            new(Data("tdx-go-tdx-guest/quote.bin"), ["--root", Data("tdx-go-tdx-guest/intel_sgx_root_ca.pem"), "--at", "2025-06-01T00:00:00Z", "--no-measurement-check"]),
            new(Data("tdx-trustee/quote.bin"), ["--root", Data("tdx-go-tdx-guest/intel_sgx_root_ca.pem"), "--at", "2025-06-01T00:00:00Z", "--allow-debug", "--no-measurement-check"]),
        ];

        // Reference values, plain and signed (detached .p7s and an enveloping CMS message) by the CI sample's test keys.
        string Key(string n) => Path.Combine(RepoPaths.Root, "samples", "ci", "test-keys", n);
        CaPem = Key("ca.pem");
        string plain = Path.Combine(dir.Path, "refs-plain.json");
        Require(CliRunner.Run("reference-values", RepoPaths.LaunchSpec("tdx-4k-sample.yaml"), "--out", plain));
        ReferenceJson = File.ReadAllText(plain);
        SignedJson = Path.Combine(dir.Path, "refs-signed.json");
        Require(CliRunner.Run("reference-values", RepoPaths.LaunchSpec("tdx-4k-sample.yaml"), "--out", SignedJson, "--sign-cert", Key("signer.pem"), "--sign-key", Key("signer.key")));
        DetachedP7s = File.ReadAllBytes(SignedJson + ".p7s");
        string enveloping = Path.Combine(dir.Path, "refs-enveloping.json");
        Require(CliRunner.Run("reference-values", RepoPaths.LaunchSpec("tdx-4k-sample.yaml"), "--out", enveloping, "--sign-cert", Key("signer.pem"), "--sign-key", Key("signer.key"), "--signature", "enveloping"));
        EnvelopingCms = File.ReadAllBytes(enveloping);

        // Measurement logs: `measure --explain` output, which diff reads back.
        Logs = [];
        LogPaths = [];
        foreach (string spec in new[] { "tdx.yaml", "snp.yaml" })
        {
            var r = CliRunner.Run("measure", RepoPaths.LaunchSpec(spec), "--explain");
            Require(r);
            string log = TrimLog(r.Stdout);
            Logs.Add((spec, log));
            LogPaths[spec] = Path.Combine(dir.Path, spec + ".explain.log");
            File.WriteAllText(LogPaths[spec], log);
        }
    }

    public string ScratchDir { get; }

    public List<(string Name, string Text)> Specs { get; }

    /// <summary>The first 64 KiB of Debian's bzImage: the setup sectors and the start of the protected-mode kernel.</summary>
    public byte[] KernelHead { get; }

    public List<(string Name, byte[] Bytes, string Platform)> Firmware { get; }

    public Dictionary<string, IReadOnlyList<int>> HotSpots { get; }

    public List<Evidence> SnpEvidence { get; }

    public List<Evidence> TdxEvidence { get; }

    public string RealArk { get; }

    public string RealAsk { get; }

    public byte[] RealVcek { get; }

    public string TdxRootPem { get; }

    public string CaPem { get; }

    public string ReferenceJson { get; }

    public string SignedJson { get; }

    public byte[] DetachedP7s { get; }

    public byte[] EnvelopingCms { get; }

    public List<(string Name, string Text)> Logs { get; }

    public Dictionary<string, string> LogPaths { get; }

    /// <summary>Writes a case's input to a fixed scratch file (rewritten each case) and returns its path.</summary>
    public string Scratch(string name, string text) => Scratch(name, Encoding.UTF8.GetBytes(text));

    public string Scratch(string name, byte[] bytes)
    {
        string path = Path.Combine(ScratchDir, "mutated-" + name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    public void Dispose() => dir.Dispose();

    /// <summary>The shared synthetic vectors when this machine has them, else the repository's copies of them.</summary>
    private static string SyntheticVector(string name) =>
        File.Exists(Path.Combine("/work/shared/vectors/synthetic", name)) ? Path.Combine("/work/shared/vectors/synthetic", name) : RepoPaths.Synthetic(name);

    /// <summary>Where firmware metadata lives: the GUIDed table at the end, and the TDVF and SEV metadata signatures.</summary>
    private static List<int> HotOffsets(byte[] image)
    {
        var hot = new List<int> { Math.Max(0, image.Length - 0x400), Math.Max(0, image.Length - 0x100), Math.Max(0, image.Length - 0x30) };
        foreach (string signature in new[] { "TDVF", "ASEV" })
        {
            var sig = Encoding.ASCII.GetBytes(signature);
            for (int at = image.AsSpan().IndexOf(sig), from = 0; at >= 0 && hot.Count < 16; from = at + 1, at = image.AsSpan(from).IndexOf(sig) is int n and >= 0 ? from + n : -1)
            {
                hot.Add(at);
            }
        }

        return hot;
    }

    /// <summary>The first 400 lines are plenty to mutate, and keep diff cheap.</summary>
    private static string TrimLog(string log) => string.Join('\n', log.Split('\n').Take(400)) + "\n";

    private static void Require(CliResult r)
    {
        if (r.Exit != 0)
        {
            throw new InvalidOperationException($"preparing the smoke inputs failed: exit {r.Exit}: {r.Stderr}");
        }
    }

    public sealed record Evidence(string Path, string[] Args)
    {
        public byte[] Bytes { get; } = File.ReadAllBytes(Path);

        public string[] RootArgs { get; init; } = Args.Take(2).ToArray();
    }
}
