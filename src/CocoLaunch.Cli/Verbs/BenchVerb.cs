using System.Globalization;
using CocoLaunch.Cli.Reports;
using CocoLaunch.Spec;
using CocoLaunch.Vmm.Bench;
using CommandLine;

namespace CocoLaunch.Cli.Verbs;

[Verb("bench", HelpText = "Measure KVM_PRE_FAULT_MEMORY throughput and model memory (run by hand, in Release).")]
public sealed class BenchOptions : CommonOptions
{
    [Option("size", Default = "64G", HelpText = "Guest size for the 4K, 2M and 1G scenarios.")]
    public string Size { get; set; } = "64G";

    [Option("large", Default = "1T", HelpText = "Guest size for the large 1G-leaf scenario.")]
    public string Large { get; set; } = "1T";

    [Option("threads", Default = 2, HelpText = "Run each scenario on 1 and on this many vCPUs.")]
    public int Threads { get; set; } = 2;

    [Option("repeat", Default = 5, HelpText = "Runs per scenario; the median run is reported.")]
    public int Repeat { get; set; } = 5;

    [Option("suite", Default = "all", HelpText = "prefault, mrtd or all.")]
    public string Suite { get; set; } = "all";

    [Option("firmware", HelpText = "For the MRTD suite: a TDVF image to measure besides the synthetic one (default: the vendored Debian OVMF.fd, if found).")]
    public string? Firmware { get; set; }

    [Option("warmup", Default = 40, HelpText = "Untimed 1 GiB passes over every scenario first, so the JIT has tiered up.")]
    public int Warmup { get; set; } = 40;
}

internal static class BenchVerb
{
    public static int Run(BenchOptions o, TextWriter stdout)
    {
        if (o.Suite is not ("all" or "prefault" or "mrtd"))
        {
            throw new CliInputException($"--suite: '{o.Suite}' is not one of: all, prefault, mrtd");
        }

        if (o.Suite is "all" or "prefault")
        {
            RunPreFault(o, stdout);
        }

        if (o.Suite is "all" or "mrtd")
        {
            RunMrtd(o, stdout);
        }

        return ExitCode.Ok;
    }

    private static void RunMrtd(BenchOptions o, TextWriter stdout)
    {
        var images = new List<Formats.FirmwareImage>();
        string? firmware = o.Firmware ?? FindVendoredOvmf();
        if (firmware is not null)
        {
            images.Add(Formats.FirmwareImage.Load(firmware));
        }

        images.Add(MrtdBenchmark.SyntheticImage(64 << 20));
        var table = new TextTable("firmware", "bytes hashed", "time", "digest MB/s", "raw SHA-384 MB/s", "ratio");
        foreach (var image in images)
        {
            // Small images finish in milliseconds: give them more runs, so the best is not a cold one.
            int runs = image.Size < (16 << 20) ? o.Repeat * 10 : o.Repeat;
            var r = MrtdBenchmark.Run(image.Name, image, runs, warmup: Math.Min(o.Warmup, runs));
            table.Add(Path.GetFileName(r.Firmware), r.BytesHashed.ToString(CultureInfo.InvariantCulture),
                $"{r.Elapsed.TotalMilliseconds.ToString("0.0", CultureInfo.InvariantCulture)} ms",
                (r.BytesPerSecond / 1e6).ToString("0.0", CultureInfo.InvariantCulture),
                (r.RawSha384BytesPerSecond / 1e6).ToString("0.0", CultureInfo.InvariantCulture),
                r.RatioToRaw.ToString("0.00", CultureInfo.InvariantCulture));
        }

        if (FindVendoredOvmf() is { } ovmf)
        {
            // SNP: the digest of the same firmware's CODE part with 64 vCPUs, as the SNP benchmark asks.
            string code = Path.Combine(Path.GetDirectoryName(ovmf)!, "OVMF_CODE.fd");
            var image = Formats.FirmwareImage.Load(File.Exists(code) ? code : ovmf);
            var r = MrtdBenchmark.RunSnp(image.Name, image, 64, o.Repeat * 10, Math.Min(o.Warmup, o.Repeat * 10));
            table.Add("SNP " + Path.GetFileName(r.Firmware) + ", 64 vCPUs", r.BytesHashed.ToString(CultureInfo.InvariantCulture),
                $"{r.Elapsed.TotalMilliseconds.ToString("0.0", CultureInfo.InvariantCulture)} ms",
                (r.BytesPerSecond / 1e6).ToString("0.0", CultureInfo.InvariantCulture),
                (r.RawSha384BytesPerSecond / 1e6).ToString("0.0", CultureInfo.InvariantCulture),
                r.RatioToRaw.ToString("0.00", CultureInfo.InvariantCulture));
        }

        stdout.WriteLine();
        table.Write(stdout, indent: string.Empty);
    }

    private static string? FindVendoredOvmf()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "firmware", "debian-ovmf-2022.11-6+deb12u2", "OVMF.fd");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    private static void RunPreFault(BenchOptions o, TextWriter stdout)
    {
        ulong size = ParseSize(o.Size, "--size");
        ulong large = ParseSize(o.Large, "--large");
        if (o.Warmup is < 0 or > 1000)
        {
            throw new CliInputException($"--warmup: {o.Warmup} is out of range (0..1000)");
        }

        if (o.Repeat is < 1 or > 100)
        {
            throw new CliInputException($"--repeat: {o.Repeat} is out of range (1..100)");
        }

        if (o.Threads is < 1 or > 64)
        {
            throw new CliInputException($"--threads: {o.Threads} is out of range (1..64)");
        }

        var runs = new List<(PreFaultBenchmark.Backing Backing, ulong Size, int Threads)>();
        foreach (var backing in Enum.GetValues<PreFaultBenchmark.Backing>())
        {
            runs.Add((backing, size, 1));
            if (o.Threads > 1)
            {
                runs.Add((backing, size, o.Threads));
            }
        }

        runs.Add((PreFaultBenchmark.Backing.Hugetlb1G, large, 1));
        // Warm up every path until the JIT has tiered it up, so the first measured scenario is not penalised.
        for (int i = 0; i < o.Warmup; i++)
        {
            foreach (var (backing, _, threads) in runs)
            {
                PreFaultBenchmark.Run(backing, 1UL << 30, threads);
            }
        }

        var table = new TextTable("scenario", "guest", "vcpus", "pages_4k", "pages_2m", "pages_1g", "time", "4K pages/s", "speedup", "model B/4K page");
        var single = new Dictionary<(PreFaultBenchmark.Backing, ulong), double>();
        foreach (var (backing, bytes, threads) in runs)
        {
            var r = Enumerable.Range(0, o.Repeat).Select(_ => PreFaultBenchmark.Run(backing, bytes, threads)).OrderBy(x => x.Elapsed).ElementAt(o.Repeat / 2);
            if (threads == 1)
            {
                single[(backing, bytes)] = r.PagesPerSecond;
            }

            string speedup = single.TryGetValue((backing, bytes), out double one) ? (r.PagesPerSecond / one).ToString("0.00x", CultureInfo.InvariantCulture) : "-";
            table.Add(r.Scenario, SizeParser.Format(r.GuestBytes), threads.ToString(CultureInfo.InvariantCulture),
                r.Stats.Pages4K.ToString(CultureInfo.InvariantCulture), r.Stats.Pages2M.ToString(CultureInfo.InvariantCulture), r.Stats.Pages1G.ToString(CultureInfo.InvariantCulture),
                $"{r.Elapsed.TotalMilliseconds.ToString("0.0", CultureInfo.InvariantCulture)} ms",
                $"{(r.PagesPerSecond / 1e6).ToString("0.0", CultureInfo.InvariantCulture)} M",
                speedup,
                r.BytesPerMappedPage.ToString("0.00", CultureInfo.InvariantCulture));
        }

        table.Write(stdout, indent: string.Empty);
    }

    private static ulong ParseSize(string text, string option) =>
        SizeParser.TryParse(text, out ulong bytes, out _) && bytes > 0 && bytes % (1UL << 30) == 0 && bytes <= (1UL << 50)
            ? bytes
            : throw new CliInputException($"{option}: '{text}' is not a whole number of GiB up to 1 PiB (e.g. 64G)");
}
