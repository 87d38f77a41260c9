using System.Diagnostics;
using System.Globalization;
using CocoLaunch.Cli.Reports;

namespace CocoLaunch.Cli.Verbs;

/// <summary>
/// bench --suite soak: the shipped samples launched and booted many times in one process, then reference values
/// over every launch spec again and again, through the CLI's own entry. After each round the managed heap is
/// measured after a full collection: a launch that leaves state behind shows as growth from the first round.
/// </summary>
internal static class SoakBench
{
    private static readonly string[] Samples = ["tdx-4k-sample.yaml", "snp-sample.yaml", "snp-sample-2vcpu.yaml"];

    public static int Run(int rounds, TextWriter stdout)
    {
        string specs = BenchVerb.FindRepoFolder("launch-specs") ?? throw new CliInputException("bench --suite soak: the launch-specs folder of the repository was not found");
        // Every spec with a launch measurement: not the DEFAULT and SW_PROTECTED ones, nor the SNP policy LAUNCH_START refuses.
        var all = Directory.GetFiles(specs, "*.yaml")
            .Where(f => Path.GetFileName(f) is var n && !n.StartsWith("default", StringComparison.Ordinal) && !n.StartsWith("sw-protected", StringComparison.Ordinal) && !n.EndsWith("single-socket.yaml", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal).ToArray();
        var table = new TextTable("round", "launches", "reference-values runs", "time", "managed heap after GC", "working set");
        long baseline = 0;
        int failures = 0;
        rounds = Math.Max(rounds, 5);
        for (int round = 1; round <= rounds; round++)
        {
            var clock = Stopwatch.StartNew();
            foreach (string sample in Samples)
            {
                failures += Cli(["launch", Path.Combine(specs, sample), "--timeout", "120"]) is 0 ? 0 : 1;
            }

            string output = Path.Combine(Path.GetTempPath(), $"cocolaunch-soak-{Environment.ProcessId}.json");
            failures += Cli(["reference-values", .. all, "--out", output]) is 0 ? 0 : 1;
            File.Delete(output);
            long heap = GC.GetTotalMemory(forceFullCollection: true);
            baseline = round == 1 ? heap : baseline;
            table.Add(round.ToString(CultureInfo.InvariantCulture), Samples.Length.ToString(CultureInfo.InvariantCulture), "1 (" + all.Length + " specs)",
                $"{clock.Elapsed.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture)} s", Mib(heap), Mib(Environment.WorkingSet));
        }

        stdout.WriteLine();
        table.Write(stdout, indent: string.Empty);
        long final = GC.GetTotalMemory(forceFullCollection: true);
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"managed heap: {Mib(baseline)} after round 1, {Mib(final)} after round {rounds} ({(final - baseline) / 1024.0:+0;-0} KiB); failed runs: {failures}"));
        return failures == 0 ? ExitCode.Ok : ExitCode.CheckFailed;
    }

    private static int Cli(string[] args) => CliApp.Run(args, TextWriter.Null, TextWriter.Null);

    private static string Mib(long bytes) => (bytes / 1048576.0).ToString("0.0", CultureInfo.InvariantCulture) + " MiB";
}
