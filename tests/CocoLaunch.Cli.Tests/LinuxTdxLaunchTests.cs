using CocoLaunch.Tests.Shared;

namespace CocoLaunch.Cli.Tests;

/// <summary>
/// Debian's kernel as a TD (launch-specs/linux-tdx.yaml, samples/linux-tdx): the Linux TD firmware accepts the RAM
/// and measures the TD HOB into RTMR0 and its CCEL log, the kernel detects TDX, converts its swiotlb to shared
/// through MapGPA, and our TD init (initramfs/src/tdx-init.c) prints the event log, the MRTD and RTMRs of the TD's
/// own TDREPORT and the size of a quote, then powers off.
/// </summary>
public sealed class LinuxTdxLaunchTests
{
    private static string Spec => RepoPaths.LaunchSpec("linux-tdx.yaml");

    [Fact]
    public void LinuxTdxSpec_BootsAsATd_ReportsWhatMeasurePredicts_AndItsQuoteVerifies()
    {
        using var dir = new TempDir();
        string quotePath = Path.Combine(dir.Path, "quote.bin");
        var result = CliRunner.Run("launch", Spec, "--timeout", "900", "--stats", "--trace-exits", "--evidence-out", quotePath);
        Assert.True(result.Exit == 0, $"exit {result.Exit}: {string.Join('\n', result.Stderr.Split('\n').TakeLast(3))}\n{string.Join('\n', result.Stdout.Split('\n').TakeLast(15))}");
        var lines = result.Stdout.Split('\n').Select(l => l.TrimEnd('\r')).Select(l => l.Length > 15 && l[0] == '[' ? l[15..] : l).ToList();

        Assert.Equal("linux-tdx: TD started", lines[0]);
        Assert.Matches(@"^linux-tdx: accepted 0x[0-9a-f]{8} bytes, [0-9a-f]{2} e820 entries; entering Linux$", lines[1]);
        Assert.Contains("tdx: Guest detected", lines);
        Assert.Contains("Memory Encryption Features active: Intel TDX", lines);
        Assert.Contains("x2apic: enabled by BIOS, switching to x2apic ops", lines); // CPUID.1 x2APIC, the APIC in x2APIC mode
        Assert.Contains("tsc: Detected 1000.000 MHz processor", lines);                   // the module's CPUID 0x15: 40 × 25 MHz
        Assert.Contains("TSC deadline timer available", lines);
        // The e820 map the firmware wrote from the TD HOB: its TempMem and HOB reserved, the PayloadParam ACPI data.
        Assert.Contains("BIOS-e820: [mem 0x0000000000800000-0x000000000080afff] reserved", lines);
        Assert.Contains("BIOS-e820: [mem 0x0000000000810000-0x000000000081ffff] ACPI data", lines);

        int init = lines.IndexOf("Run /init as init process");
        Assert.True(init > 0);
        Assert.Equal("cocolaunch-tdx-init: hello from PID 1", lines[init + 1]);

        // The firmware's event log, which Linux found through the CCEL table: one TD HOB event in RTMR0 (MR index 1),
        // its digest the one `measure` predicts (the firmware hashed the HOB in guest memory with its own SHA-384).
        // Then the TD's own TDREPORT, read through Debian's tdx-guest module (TDX_CMD_GET_REPORT0): its MRTD and
        // RTMRs are what `measure` predicts. Then a quote through configfs-tsm: the guest's count of its bytes is the
        // size of the quote the VMM wrote with --evidence-out.
        using var measured = System.Text.Json.JsonDocument.Parse(CliRunner.Run("measure", Spec, "--output-format", "json").Stdout);
        string Predicted(string field) => measured.RootElement.GetProperty(field).GetString()!;
        var hobEvent = measured.RootElement.GetProperty("rtmr0LaunchEvents").EnumerateArray().Single();
        Assert.Equal("EV_EFI_HANDOFF_TABLES2", hobEvent.GetProperty("type").GetString());
        string hobDigest = hobEvent.GetProperty("digest").GetString()!;
        Assert.Equal(
            [$"cocolaunch-tdx-init: event MR1 type 0x8000000b sha384 {hobDigest}", "cocolaunch-tdx-init: CCEL log 32768 bytes, 1 events after the Spec ID event",
                lines[init + 4], $"cocolaunch-tdx-init: MRTD {Predicted("mrtd")}", $"cocolaunch-tdx-init: RTMR0 {Predicted("rtmr0")}", $"cocolaunch-tdx-init: RTMR1 {Predicted("rtmr1")}",
                $"cocolaunch-tdx-init: RTMR2 {Predicted("rtmr2")}", $"cocolaunch-tdx-init: RTMR3 {Predicted("rtmr3")}",
                $"cocolaunch-tdx-init: quote {new FileInfo(quotePath).Length} bytes", "cocolaunch-tdx-init: tdx-guest unloaded", "cocolaunch-tdx-init: powering off"],
            lines.Skip(init + 2).Take(11));

        // The log's records, which the TD printed in hex: `eventlog` reads them, their TD HOB event carries the same
        // bytes as real OVMF's (trustee's CCEL_data_ovmf: "TdxTable", the HOB list GUID, the HOB at 0x809000), and
        // `verify-evidence --event-log` replays them to the quote's RTMRs.
        Assert.StartsWith("cocolaunch-tdx-init: CCEL ", lines[init + 4]);
        string log = Path.Combine(dir.Path, "ccel.bin");
        File.WriteAllBytes(log, Convert.FromHexString(lines[init + 4]["cocolaunch-tdx-init: CCEL ".Length..]));
        var eventlog = CliRunner.Run("eventlog", log, "--format", "json");
        Assert.Equal(0, eventlog.Exit);
        using var parsed = System.Text.Json.JsonDocument.Parse(eventlog.Stdout);
        Assert.Equal(Predicted("rtmr0"), parsed.RootElement.GetProperty("rtmr0").GetString());
        Assert.Equal("CVRkeFRhYmxlAAEAAAAAAAAAr5a7k/K5uE6UYuC6dFZCNgCQgAAAAAAA", parsed.RootElement.GetProperty("events")[0].GetProperty("eventData").GetString());
        string predicted = Path.Combine(dir.Path, "predicted.bin");
        Assert.Equal(0, CliRunner.Run("measure", Spec, "--event-log", predicted).Exit);
        Assert.Equal(File.ReadAllBytes(predicted), File.ReadAllBytes(log)); // measure predicts the firmware's log byte for byte

        // The log replays to the RTMR0 the TD reported: RTMR0 = SHA-384(48 zero bytes ‖ the event's digest).
        Assert.Equal(Predicted("rtmr0"), Convert.ToHexStringLower(System.Security.Cryptography.SHA384.HashData([.. new byte[48], .. Convert.FromHexString(hobDigest)])));
        Assert.Contains(lines, l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^ACPI: CCEL 0x0000000000812[0-9A-F]{3} 000038 \(v01 COCOLA COCOLNCH"));
        Assert.Contains("reboot: Power down", lines);

        // The kernel's swiotlb (64 MiB and a little) and tdx-guest's quote buffer went shared through MapGPA; unloading
        // tdx-guest converted the buffer back. The GetQuote stayed in flight until the quote service answered it.
        Assert.Matches(@"explicit to-shared [1-9]\d{3,}, to-private 2;", result.Stderr);
        var quoteBuffer = System.Text.RegularExpressions.Regex.Match(result.Stderr, @"vcpu0 tdx get_quote gpa=(0x[0-9a-f]+) size=0x2000");
        Assert.True(quoteBuffer.Success, "no GetQuote in the exit trace");
        string gpa = quoteBuffer.Groups[1].Value;
        var trace = result.Stderr.Split('\n').ToList();
        int[] order =
        [
            trace.IndexOf($"vcpu0 hypercall nr=12 gpa={gpa} pages=2 to=shared"),
            trace.IndexOf($"vcpu0 tdx get_quote gpa={gpa} size=0x2000"),
            trace.FindIndex(l => l.StartsWith("vcpu0   quote service answered GetQuote", StringComparison.Ordinal)),
            trace.IndexOf($"vcpu0 hypercall nr=12 gpa={gpa} pages=2 to=private"),
        ];
        Assert.True(order[0] >= 0 && order.SequenceEqual(order.Order()), $"trace lines at {string.Join(", ", order)}: to-shared, GetQuote, answer, to-private");

        // The quote chains to the emulated quoting enclave's TEST root and carries the MRTD and RTMRs of the spec's
        // reference values, signed by the CI test signer (samples/ci/test-keys) and checked against its CA.
        string references = Path.Combine(dir.Path, "reference-values.json");
        string keys = Path.Combine(RepoPaths.Root, "samples", "ci", "test-keys");
        Assert.Equal(0, CliRunner.Run("reference-values", Spec, "--out", references, "--sign-cert", Path.Combine(keys, "signer.pem"), "--sign-key", Path.Combine(keys, "signer.key")).Exit);
        var verified = CliRunner.Run("verify-evidence", quotePath, "--root", quotePath + ".root.pem", "--reference-values", references, "--trust", Path.Combine(keys, "ca.pem"), "--event-log", log);
        Assert.True(verified.Exit == 0, verified.Stdout + verified.Stderr);
        Assert.Contains($"ok   measurement: MRTD {Predicted("mrtd")} is a reference value", verified.Stdout);
        Assert.Contains($"ok   rtmr0: RTMR0 {Predicted("rtmr0")}", verified.Stdout);
        Assert.Contains("ok   event-log: its 1 events replay to the quote's RTMR0-3", verified.Stdout);
        Assert.Contains("ok   event-log.events: its 1 measured events are the reference value's, in order", verified.Stdout);

        // Reference values for other memory (another TD HOB, so another RTMR0, the same MRTD) do not accept the quote.
        string other = Path.Combine(dir.Path, "other.json");
        Assert.Equal(0, CliRunner.Run("reference-values", Variant(dir, "memory: 256M", "memory: 512M"), "--out", other).Exit);
        var rejected = CliRunner.Run("verify-evidence", quotePath, "--root", quotePath + ".root.pem", "--reference-values", other);
        Assert.Equal(1, rejected.Exit);
        Assert.Contains("FAIL rtmr0: RTMR0 " + Predicted("rtmr0") + ", expected ", rejected.Stdout);

        // A log from another TD (real OVMF's, trustee's CCEL_data_ovmf) neither replays to the quote nor has its events.
        var foreign = CliRunner.Run("verify-evidence", quotePath, "--root", quotePath + ".root.pem", "--reference-values", references, "--event-log", RepoPaths.TestData("ccel/CCEL_data_ovmf"));
        Assert.Equal(1, foreign.Exit);
        Assert.Contains("FAIL event-log: RTMR0 replays to 8566f998", foreign.Stdout);
        Assert.Contains("FAIL event-log.events: event 1 (offset 0x41) is MR1 EV_EFI_HANDOFF_TABLES2 0b8772e5", foreign.Stdout);
    }

    /// <summary>
    /// Without SEPT_VE_DISABLE, Linux 6.12 (disable_sept_ve) needs FLEXIBLE_PENDING_VE in CONFIG_FLAGS, which KVM does
    /// not set: a production TD reports the misconfiguration through TDG.VP.VMCALL&lt;ReportFatalError&gt; and stops; a
    /// debug TD (ATTRIBUTES.DEBUG) only warns and boots.
    /// </summary>
    [Theory]
    [InlineData("0x0", false)]
    [InlineData("0x1", true)]
    public void WithoutSeptVeDisable_ProductionTdStopsWithLinuxsReason_DebugTdBoots(string attributes, bool boots)
    {
        using var dir = new TempDir();
        string spec = Variant(dir, "attributes: 0x10000000", $"attributes: {attributes}");
        var result = CliRunner.Run("launch", spec, "--timeout", "900");
        if (boots)
        {
            Assert.True(result.Exit == 0, result.Stderr);
            Assert.Contains("tdx: TD misconfiguration: SEPT #VE has to be disabled", result.Stdout); // the warning
            Assert.Contains("cocolaunch-tdx-init: MRTD ", result.Stdout);
        }
        else
        {
            Assert.Equal(1, result.Exit);
            Assert.EndsWith("the TD reported a fatal error 0x0: TD misconfiguration: SEPT #VE has to be disabled", result.ErrorLine);
        }
    }

    [Fact]
    public void Measure_PredictsEveryRtmr_Rtmr0IsTheTdHobAndChangesWithMemory()
    {
        // The firmware extends RTMR0 with the TD HOB only, and Linux 6.12 issues no TDG.MR.RTMR.EXTEND
        // (linux-guest.md §5): measure gives all four registers. The HOB describes the TD's memory, so RTMR0 follows it.
        using var dir = new TempDir();
        string bigger = Variant(dir, "memory: 256M", "memory: 512M");
        using var a = System.Text.Json.JsonDocument.Parse(CliRunner.Run("measure", Spec, "--output-format", "json").Stdout);
        using var b = System.Text.Json.JsonDocument.Parse(CliRunner.Run("measure", bigger, "--output-format", "json").Stdout);
        string Field(System.Text.Json.JsonDocument d, string name) => d.RootElement.GetProperty(name).GetString()!;
        Assert.Equal(Field(a, "rtmr0AfterLaunchEvents"), Field(a, "rtmr0"));
        Assert.All(new[] { "rtmr1", "rtmr2", "rtmr3" }, r => Assert.Equal(new string('0', 96), Field(a, r)));
        Assert.NotEqual(Field(a, "rtmr0"), Field(b, "rtmr0"));
        Assert.Equal(Field(a, "mrtd"), Field(b, "mrtd")); // memory size is not in MRTD: the HOB is what binds it
    }

    [Fact]
    public void Verify_OfAnotherMemorySize_MatchesMrtdButNamesRtmr0AndTheTdHobEvent()
    {
        using var dir = new TempDir();
        string references = Path.Combine(dir.Path, "rv.json");
        Assert.Equal(0, CliRunner.Run("reference-values", Spec, "--out", references).Exit);
        Assert.Equal(0, CliRunner.Run("verify", Spec, "--reference-values", references).Exit);
        var result = CliRunner.Run("verify", Variant(dir, "memory: 256M", "memory: 512M"), "--reference-values", references);
        Assert.Equal(1, result.Exit);
        var lines = result.Stdout.Split('\n');
        Assert.StartsWith("match: linux-tdx MRTD ", lines[0]);
        Assert.Equal("MISMATCH: linux-tdx RTMR0", lines[1]);
        Assert.StartsWith("  first differing RTMR event 1: expected MR1 EV_EFI_HANDOFF_TABLES2 ", lines[4]);
    }

    [Fact]
    public void Diff_OfAnotherMemorySize_NamesTheTdHobEvent()
    {
        using var dir = new TempDir();
        var result = CliRunner.Run("diff", Spec, Variant(dir, "memory: 256M", "memory: 512M"));
        Assert.Equal(1, result.Exit);
        var lines = result.Stdout.Split('\n');
        Assert.StartsWith("identical: ", lines[0]); // the same MRTD operations
        Assert.Equal("first divergence at RTMR event 1 (A has 1, B has 1):", lines[1]);
        Assert.StartsWith("  A: MR1 EV_EFI_HANDOFF_TABLES2 ", lines[2]);
    }

    [Fact]
    public void Measure_CoversTheCommandLine_ThroughThePayloadParamSection()
    {
        using var dir = new TempDir();
        string other = Variant(dir, "cmdline: console=ttyS0", "cmdline: console=ttyS0 quiet");
        var a = CliRunner.Run("measure", Spec);
        var b = CliRunner.Run("measure", other);
        Assert.Equal((0, 0), (a.Exit, b.Exit));
        Assert.Matches("^[0-9a-f]{96}$", a.Stdout.Trim());
        Assert.NotEqual(a.Stdout, b.Stdout);
    }

    /// <summary>The shipped spec with one line changed, written into <paramref name="dir"/> with its paths made absolute.</summary>
    private static string Variant(TempDir dir, string line, string replacement) =>
        dir.Write("linux-tdx.yaml", File.ReadAllText(Spec).Replace(line, replacement, StringComparison.Ordinal)
            .Replace("../", RepoPaths.Root.TrimEnd('/') + "/", StringComparison.Ordinal));
}
