using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using CocoLaunch.Formats.Tcg;
using CocoLaunch.Tests.Shared;

namespace CocoLaunch.Cli.Tests;

/// <summary>
/// RTMR0-2 predicted for Debian's OVMF 2025.02 direct-booting Debian's kernel as a TD (tdx.measured-boot), checked
/// against what that firmware logged itself. tests/data/ovmf-direct-boot/tpm-* are captures by capture.sh (see its
/// README): QEMU 7.2 ran the firmware with a swtpm TPM whose SHA-384 bank got the same events TdTcg2Dxe logs as a TD,
/// apart from the TPM-only ones (PCR0 and the separators of PCRs TdTcg2Dxe does not map). So every digest compared
/// here was computed by the real firmware from the real inputs, not by this project.
/// </summary>
public sealed class OvmfDirectBootRtmrTests
{
    private static string Capture(string run, string file) => RepoPaths.TestData($"ovmf-direct-boot/{run}/{file}");

    private const string GlobalGuid = "8be4df61-93ca-11d2-aa0d-00e098032b8c";

    /// <summary>A spec for one capture: its memory, command line and fw_cfg files, with the capture initramfs as initrd.</summary>
    private static string Spec(TempDir dir, string run, string memory, string cmdline)
    {
        var fwCfg = new StringBuilder();
        foreach (var (name, file) in new[] { ("etc/table-loader", "etc_table-loader"), ("etc/acpi/rsdp", "etc_acpi_rsdp"), ("etc/acpi/tables", "etc_acpi_tables"), ("etc/tpm/log", "etc_tpm_log") })
        {
            fwCfg.Append($"      {name}: {Capture(run, file)}\n");
        }

        return dir.Write("spec.yaml", $"""
            platform: tdx
            firmware: {RepoPaths.TrixieOvmfFd}
            kernel: {RepoPaths.DebianKernel}
            initrd: {Path.Combine(RepoPaths.Root, "initramfs", "bin", "initramfs-capture.cpio.gz")}
            cmdline: {cmdline}
            memory: {memory}
            tdx:
              measured-boot:
                kernel-patch: qemu-7.2
                fw-cfg:
            {fwCfg}    boot-order: {Capture(run, "BootOrder-" + GlobalGuid)}
                boot-options: [{Capture(run, "Boot0000-" + GlobalGuid)}]
            """);
    }

    private static IReadOnlyList<CcEvent> Predicted(string spec, TempDir dir)
    {
        string log = Path.Combine(dir.Path, "predicted.bin");
        var result = CliRunner.Run("measure", spec, "--event-log", log);
        Assert.True(result.Exit == 0, result.Stderr);
        return CcEventLog.Parse(File.ReadAllBytes(log), log).Events;
    }

    /// <summary>
    /// The TPM log as TdTcg2Dxe would log it: PCR n as CC MR index (1 and 7 → 1, 2-6 → 2, 8-15 → 3; tdx-mrtd.md §6.1),
    /// without PCR0's events (MRTD covers the firmware) and with the ready-to-boot separator only for PCR 4 (TdTcg2Dxe
    /// OnReadyToBoot extends MR index 2 alone; PCR 7's came earlier, with the Secure Boot variables).
    /// </summary>
    private static List<(uint Mr, uint Type, string Sha384, byte[] Data)> AsTdLog(string run)
    {
        var tpm = CcEventLog.Parse(File.ReadAllBytes(Capture(run, "eventlog")), run);
        return [.. tpm.Events
            .Where(e => e.MrIndex != 0 && (e.Type != TcgEventType.Separator || e.MrIndex is 4 or 7))
            .Select(e => (e.MrIndex switch { 1 or 7 => 1u, >= 2 and <= 6 => 2u, _ => 3u }, e.Type, Convert.ToHexStringLower(e.Digest(TcgAlgorithm.Sha384)!), e.Data))];
    }

    [Theory]
    [InlineData("tpm-2G", "2G", "console=ttyS0")]
    [InlineData("tpm-1G", "1G", "console=ttyS0 quiet")]
    public void EveryPredictedEvent_AfterTheTdOnlyOnes_EqualsTheRealFirmwaresLog(string run, string memory, string cmdline)
    {
        using var dir = new TempDir();
        var predicted = Predicted(Spec(dir, run, memory, cmdline), dir);
        var real = AsTdLog(run);

        // The TD HOB and the CFV come from TDVF's SEC phase, which a TPM boot does not run: they are checked below.
        Assert.Equal([TcgEventType.EfiHandoffTables2, TcgEventType.EfiPlatformFirmwareBlob2], predicted.Take(2).Select(e => e.Type));
        Assert.Equal(real.Count, predicted.Count - 2);
        for (int i = 0; i < real.Count; i++)
        {
            var (p, r) = (predicted[i + 2], real[i]);
            string at = $"event {i + 2} ({TcgEventType.Name(r.Type)})";
            Assert.True(r.Mr == p.MrIndex && r.Type == p.Type, $"{at}: MR{p.MrIndex} {p.TypeName}, the firmware logged MR{r.Mr}");
            Assert.True(r.Sha384 == Convert.ToHexStringLower(p.Digest(TcgAlgorithm.Sha384)!), $"{at}: digest differs");
            if (r.Type != TcgEventType.EfiBootServicesApplication)
            {
                Assert.True(r.Data.AsSpan().SequenceEqual(p.Data), $"{at}: event data differs");
            }
        }
    }

    [Fact]
    public void KernelDigest_DependsOnRamBelow4G_AsQemuPatchesTheInitrdAddress()
    {
        // The same kernel and initrd measured by the real firmware: 2 GiB and 1 GiB give different setup headers.
        string Kernel(string run) => AsTdLog(run).Single(e => e.Type == TcgEventType.EfiBootServicesApplication).Sha384;
        Assert.NotEqual(Kernel("tpm-2G"), Kernel("tpm-1G"));
    }

    [Fact]
    public void CommandLineAndInitrd_AreTheStubsDigests_ComputedHereIndependently()
    {
        using var dir = new TempDir();
        var events = Predicted(Spec(dir, "tpm-2G", "2G", "console=ttyS0"), dir).Where(e => e.MrIndex == 3).ToList();
        byte[] initrd = File.ReadAllBytes(Path.Combine(RepoPaths.Root, "initramfs", "bin", "initramfs-capture.cpio.gz"));
        Assert.Equal(
            [SHA384.HashData(Encoding.Unicode.GetBytes("console=ttyS0 initrd=initrd\0")), SHA384.HashData(initrd)],
            events.Select(e => e.Digest(TcgAlgorithm.Sha384)!));
    }

    [Fact]
    public void ShippedSpec_SharesItsFixedEvents_WithTrusteesRealTdLog()
    {
        // trustee's CCEL_data_ovmf is the log of a real TD booted directly by an OVMF with CC measurement and an empty
        // variable store, as ours: the CFV (same stock store), the Secure Boot variables, their separator, the default
        // boot variables and the actions are the same bytes. Its ready-to-boot separator is MR1 (edk2 before the move
        // to MR2 that 2025.02 has), and its ACPI, kernel and initrd are its own.
        using var dir = new TempDir();
        var ours = Predicted(RepoPaths.LaunchSpec("tdx-direct-boot.yaml"), dir);
        var theirs = CcEventLog.Parse(File.ReadAllBytes(RepoPaths.TestData("ccel/CCEL_data_ovmf")), "trustee").Events;
        foreach (var (mine, real) in new[] { (1, 1), (2, 2), (3, 3), (4, 4), (5, 5), (6, 6), (7, 7), (12, 12), (13, 13), (14, 14), (18, 18), (19, 19) })
        {
            Assert.Equal(theirs[real].Type, ours[mine].Type);
            Assert.Equal(theirs[real].Digest(TcgAlgorithm.Sha384), ours[mine].Digest(TcgAlgorithm.Sha384));
            Assert.Equal(theirs[real].Data, ours[mine].Data);
        }
    }

    [Fact]
    public void Measure_PrintsRtmrsAsTheReplayOfItsOwnEventLog()
    {
        using var dir = new TempDir();
        string spec = RepoPaths.LaunchSpec("tdx-direct-boot.yaml");
        var json = JsonDocument.Parse(CliRunner.Run("measure", spec, "--output-format", "json").Stdout).RootElement;
        string log = Path.Combine(dir.Path, "predicted.bin");
        Assert.Equal(0, CliRunner.Run("measure", spec, "--event-log", log).Exit);
        byte[][] replay = CcEventLog.Parse(File.ReadAllBytes(log), log).Replay();
        for (int i = 0; i < 4; i++)
        {
            Assert.Equal(Convert.ToHexStringLower(replay[i]), json.GetProperty($"rtmr{i}").GetString());
        }

        var explain = CliRunner.Run("measure", spec, "--explain").Stdout;
        Assert.Contains("RTMR events the firmware will log (20):", explain);
        Assert.Contains("kernel: Authenticode of the image QEMU serves (setup header patched as QEMU 7.2 does, for 2048 MiB)", explain);
    }

    [Fact]
    public void DiffAndVerify_NameTheCommandLineEvent_WhenOnlyTheCommandLineDiffers()
    {
        using var dir = new TempDir();
        string a = Spec(dir, "tpm-2G", "2G", "console=ttyS0");
        string b = dir.Write("quiet.yaml", File.ReadAllText(a).Replace("cmdline: console=ttyS0", "cmdline: console=ttyS0 quiet"));
        var diff = CliRunner.Run("diff", a, b);
        Assert.Equal(1, diff.Exit);
        Assert.Contains("first divergence at RTMR event 18 (A has 21, B has 21):", diff.Stdout);
        Assert.Contains("B: MR3 EV_EVENT_TAG " + Convert.ToHexStringLower(SHA384.HashData(Encoding.Unicode.GetBytes("console=ttyS0 quiet initrd=initrd\0"))), diff.Stdout);
    }

    [Fact]
    public void MeasuredBootWithoutAKernel_IsASpecError()
    {
        using var dir = new TempDir();
        string spec = dir.Write("spec.yaml", $"""
            platform: tdx
            firmware: {RepoPaths.TrixieOvmfFd}
            memory: 2G
            tdx:
              measured-boot:
                kernel-patch: qemu-7.2
                fw-cfg:
                  etc/table-loader: {Capture("no-tpm-2G", "etc_table-loader")}
                boot-order: {Capture("no-tpm-2G", "BootOrder-" + GlobalGuid)}
                boot-options: []
            """);
        var result = CliRunner.Run("validate", spec);
        Assert.Equal(2, result.Exit);
        Assert.Equal($"cocolaunch: {spec}:6:5: tdx.measured-boot: describes how the firmware measures a direct-boot kernel, but the spec has no 'kernel'", result.ErrorLine);
    }

    [Fact]
    public void AnAllocatedFileTheSpecLacks_IsAnInputErrorInValidateAndMeasure()
    {
        using var dir = new TempDir();
        // The TPM capture's loader also allocates etc/tpm/log; a spec without it cannot be predicted.
        string spec = Spec(dir, "tpm-2G", "2G", "console=ttyS0");
        File.WriteAllText(spec, File.ReadAllText(spec).Replace($"      etc/tpm/log: {Capture("tpm-2G", "etc_tpm_log")}\n", string.Empty));
        foreach (string verb in new[] { "validate", "measure" })
        {
            var result = CliRunner.Run(verb, spec);
            Assert.Equal(2, result.Exit);
            Assert.EndsWith("the loader allocates fw_cfg file 'etc/tpm/log', which tdx.measured-boot.fw-cfg does not give", result.ErrorLine);
        }
    }

    [Fact]
    public void ABootVariableThatIsNotAnEfivarfsFile_OrABootOrderOfAnotherLength_IsAnInputError()
    {
        using var dir = new TempDir();
        string spec = Spec(dir, "tpm-2G", "2G", "console=ttyS0");
        string raw = dir.Write("raw.bin", File.ReadAllBytes(Capture("tpm-2G", "Boot0000-" + GlobalGuid))[4..]);
        string text = File.ReadAllText(spec);
        File.WriteAllText(spec, text.Replace($"[{Capture("tpm-2G", "Boot0000-" + GlobalGuid)}]", $"[{raw}]"));
        var result = CliRunner.Run("measure", spec);
        Assert.Equal(2, result.Exit);
        Assert.Contains("tdx.measured-boot.boot-options[0]: not an efivarfs variable file (it starts with the attributes word; got 0x", result.ErrorLine);

        File.WriteAllText(spec, text.Replace($"[{Capture("tpm-2G", "Boot0000-" + GlobalGuid)}]", "[]"));
        result = CliRunner.Run("measure", spec);
        Assert.Equal(2, result.Exit);
        Assert.EndsWith("BootOrder lists 1 options, the spec gives 0 (tdx.measured-boot.boot-options)", result.ErrorLine);
    }
}
