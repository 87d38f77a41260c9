using System.Text.Json;
using System.Text.RegularExpressions;
using CocoLaunch.Tests.Shared;

namespace CocoLaunch.Cli.Tests;

/// <summary>
/// <c>cocolaunch launch launch-specs/ovmf-linux-tdx.yaml</c> (issue 20, the TD): Debian's OVMF 2025.02 runs as a TD on
/// the q35 devices with two vCPUs, accepts the TD's memory, reads the kernel, initrd and command line through fw_cfg and measures
/// what it boots with its own TDG.MR.RTMR.EXTEND calls into the CCEL. The oracle is that real firmware: the TD init
/// reads the firmware's CCEL and its own TDREPORT, and both must equal what <c>measure</c> predicts for the same spec
/// without running anything (the prediction was checked against QEMU captures of the same firmware, OvmfDirectBootRtmrTests).
/// </summary>
public sealed partial class OvmfLinuxTdxLaunchTests
{
    private const string Init = "cocolaunch-tdx-init: ";

    [Fact]
    public void DebianOvmf_AsATd_BootsLinux_AndItsOwnMeasurementsAreWhatMeasurePredicts()
    {
        string spec = RepoPaths.LaunchSpec("ovmf-linux-tdx.yaml");
        using var dir = new TempDir();
        string log = Path.Combine(dir.Path, "predicted.ccel");
        var measured = CliRunner.Run("measure", spec, "--output-format", "json", "--event-log", log);
        Assert.Equal(0, measured.Exit);
        using var prediction = JsonDocument.Parse(measured.Stdout);

        // About 6 G instructions: 60-100 s in a Release build, several minutes in a Debug test run on 2 busy cores.
        var result = CliRunner.Run("launch", spec, "--timeout", "1500");
        Assert.True(result.Exit == 0, $"exit {result.Exit}: {result.Stderr}\n{string.Join('\n', result.Stdout.Split('\n').TakeLast(15))}");
        var console = result.Stdout.Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        var lines = console.Where(l => l.StartsWith(Init, StringComparison.Ordinal)).Select(l => l[Init.Length..]).ToList();

        // With 3 GiB, OVMF accepts the RAM below 4 GiB and hands the rest to the kernel in its unaccepted-memory table;
        // the AP waits in OVMF's mailbox loop until Linux wakes it through the ACPI multiprocessor wakeup structure.
        Assert.Contains(console, l => l.Contains("efi: ", StringComparison.Ordinal) && l.Contains(" Unaccepted=0x", StringComparison.Ordinal));
        Assert.Contains(console, l => l.EndsWith("smp: Brought up 1 node, 2 CPUs", StringComparison.Ordinal));

        // The TD's own TDREPORT: MRTD from the launch, RTMR0-2 from the firmware's extends, RTMR3 untouched.
        Assert.Contains($"MRTD {prediction.RootElement.GetProperty("mrtd").GetString()}", lines);
        for (int i = 0; i < 4; i++)
        {
            Assert.Contains($"RTMR{i} {prediction.RootElement.GetProperty($"rtmr{i}").GetString()}", lines);
        }

        // The firmware's CCEL, event by event (register and digest), against the predicted log.
        var predicted = CliRunner.Run("eventlog", log);
        Assert.Equal(0, predicted.Exit);
        var expected = predicted.Stdout.Split('\n').Select(l => PredictedEvent().Match(l)).Where(m => m.Success).Select(m => $"MR{m.Groups[1].Value} {m.Groups[2].Value}").ToList();
        var actual = lines.Select(l => TdEvent().Match(l)).Where(m => m.Success).Select(m => $"MR{m.Groups[1].Value} {m.Groups[2].Value}").ToList();
        Assert.Equal(20, expected.Count);
        Assert.Equal(expected, actual);
        Assert.Contains("CCEL log 32768 bytes, 20 events after the Spec ID event", lines);
        Assert.Equal("powering off", lines[^1]);
    }

    [GeneratedRegex(@"^0x[0-9a-f]+\s+MR(\d)\s+\S+\s+([0-9a-f]{96})$")]
    private static partial Regex PredictedEvent();

    [GeneratedRegex(@"^event MR(\d) type 0x[0-9a-f]{8} sha384 ([0-9a-f]{96})$")]
    private static partial Regex TdEvent();
}
