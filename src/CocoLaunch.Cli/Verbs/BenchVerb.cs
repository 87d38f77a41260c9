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

    [Option("suite", Default = "all", HelpText = "prefault, mrtd, cpu, linux or all; or soak (not in all): repeated launches and reference values in one process, and the memory they leave behind.")]
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
        if (o.Suite is not ("all" or "prefault" or "mrtd" or "cpu" or "linux" or "soak"))
        {
            throw new CliInputException($"--suite: '{o.Suite}' is not one of: all, prefault, mrtd, cpu, linux, soak");
        }

        // Every argument is checked before any suite runs: a typo must not cost minutes of benchmarking first.
        Validate(o);

        if (o.Suite is "all" or "cpu")
        {
            RunCpu(o, stdout);
        }

        if (o.Suite is "all" or "linux")
        {
            LinuxBench.Run(stdout);
        }

        if (o.Suite is "all" or "prefault")
        {
            RunPreFault(o, stdout);
        }

        if (o.Suite is "all" or "mrtd")
        {
            RunMrtd(o, stdout);
        }

        if (o.Suite == "soak")
        {
            return SoakBench.Run(o.Repeat, stdout);
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
        var table = new TextTable("firmware", "hashing", "bytes hashed", "time", "digest MB/s", "raw SHA-384 MB/s", "ratio");
        foreach (var image in images)
        {
            // Small images finish in milliseconds: give them more runs and a longer warm-up (JIT tiering, the
            // chunk pool), so the best run is not a cold one. A 4 ms launch x 200 is under a second.
            bool small = image.Size < (16 << 20);
            int runs = small ? o.Repeat * 20 : o.Repeat;
            AddRow(table, Path.GetFileName(image.Name), "hash on 2nd core", MrtdBenchmark.Run(image.Name, image, runs, warmup: small ? o.Warmup * 5 : Math.Min(o.Warmup, runs)));
        }

        if (FindVendoredOvmf() is { } ovmf)
        {
            // SNP: the digest of the same firmware's CODE part with 64 vCPUs, as the SNP benchmark asks.
            string code = Path.Combine(Path.GetDirectoryName(ovmf)!, "OVMF_CODE.fd");
            var image = Formats.FirmwareImage.Load(File.Exists(code) ? code : ovmf);
            foreach (bool parallel in new[] { true, false })
            {
                var r = MrtdBenchmark.RunSnp(image.Name, image, 64, parallel, o.Repeat * 20, o.Warmup * 5);
                AddRow(table, "SNP " + Path.GetFileName(r.Firmware) + ", 64 vCPUs", parallel ? "pages on 2 cores" : "one thread", r);
            }
        }

        stdout.WriteLine();
        table.Write(stdout, indent: string.Empty);
    }

    private static void AddRow(TextTable table, string firmware, string hashing, MrtdResult r) =>
        table.Add(firmware, hashing, r.BytesHashed.ToString(CultureInfo.InvariantCulture),
            $"{r.Elapsed.TotalMilliseconds.ToString("0.0", CultureInfo.InvariantCulture)} ms",
            (r.BytesPerSecond / 1e6).ToString("0.0", CultureInfo.InvariantCulture),
            (r.RawSha384BytesPerSecond / 1e6).ToString("0.0", CultureInfo.InvariantCulture),
            r.RatioToRaw.ToString("0.00", CultureInfo.InvariantCulture));

    /// <summary>Guest MIPS of the committed bench guests (guests/README.md): the median of --repeat boots each.</summary>
    private static void RunCpu(BenchOptions o, TextWriter stdout)
    {
        string? dir = FindRepoFolder("guests/bin");
        if (dir is null)
        {
            throw new CliInputException("bench --suite cpu: the guests/bin folder of the repository was not found");
        }

        // QEMU TCG runs the same ROMs in the same run: the ratio of wall times (process or VM creation to
        // isa-debug-exit) is the comparison issue 19 targets; "median time" is our run loop alone, as MIPS uses.
        var table = new TextTable("guest", "instructions", "median time", "MIPS", "wall time", "QEMU TCG wall", "wall ratio", "compiled", "allocated B/instruction");
        bool qemuMissing = false;
        int repeat = Math.Max(1, Math.Min(o.Repeat, 5));
        foreach (string image in new[] { "bench16m-gpr-2m.bin", "bench16m-sse-2m.bin", "bench-gpr-4k.bin" })
        {
            string path = Path.Combine(dir, image);
            var bytes = Abi.IO.InputFile.ReadAllBytes(path, 16 << 20, "guest image");
            var runs = new List<(Vmm.Boot.BootResult Result, long Allocated, TimeSpan Wall)>();
            for (int i = 0; i < repeat; i++)
            {
                // Allocation over the whole boot (decoding and compiling blocks, exits): per instruction it shows
                // that executing allocates nothing.
                long before = GC.GetAllocatedBytesForCurrentThread();
                var clock = System.Diagnostics.Stopwatch.StartNew();
                var result = Vmm.Boot.FirmwareBoot.Run(bytes, 64UL << 20, Stream.Null, long.MaxValue);
                var wall = clock.Elapsed;
                runs.Add((result, GC.GetAllocatedBytesForCurrentThread() - before, wall));
            }

            var (median, allocated, ourWall) = runs.OrderBy(r => r.Wall).ElementAt(runs.Count / 2);
            string qemuWall = "—", ratio = "—";
            if (!qemuMissing && MedianQemu(path, repeat, median.ExitStatus) is { } q)
            {
                qemuWall = Seconds(q);
                ratio = (ourWall / q).ToString("0.00", CultureInfo.InvariantCulture);
            }
            else
            {
                qemuMissing = true;
            }

            table.Add(image, median.Instructions.ToString(CultureInfo.InvariantCulture), Seconds(median.Elapsed),
                median.Mips.ToString("0.0", CultureInfo.InvariantCulture), Seconds(ourWall), qemuWall, ratio,
                median.Counters is { } c ? c.CompiledShare(median.Instructions).ToString("P1", CultureInfo.InvariantCulture) : "—",
                ((double)allocated / median.Instructions).ToString("0.0000", CultureInfo.InvariantCulture));
        }

        stdout.WriteLine();
        table.Write(stdout, indent: string.Empty);
        if (qemuMissing)
        {
            stdout.WriteLine("QEMU TCG: qemu-system-x86_64 is not on PATH (apt-get install qemu-system-x86), or it did not exit as our run did; no ratio");
        }
    }

    /// <summary>The median wall time of QEMU runs of <paramref name="rom"/>; null unless QEMU ran and exited with our status.</summary>
    private static TimeSpan? MedianQemu(string rom, int repeat, int? expectedStatus)
    {
        var times = new List<TimeSpan>();
        for (int i = 0; i < repeat; i++)
        {
            if (QemuTcg.RunRom(rom) is not { } run || run.ExitStatus != expectedStatus)
            {
                return null;
            }

            times.Add(run.Elapsed);
        }

        return times.Order().ElementAt(times.Count / 2);
    }

    private static string Seconds(TimeSpan t) => $"{t.TotalSeconds.ToString("0.00", CultureInfo.InvariantCulture)} s";

    internal static string? FindRepoFolder(string relative)
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            string candidate = Path.Combine(d.FullName, relative);
            if (Directory.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    private static string? FindVendoredOvmf() =>
        FindRepoFolder(Path.Combine("firmware", "debian-ovmf-2022.11-6+deb12u2")) is { } dir && File.Exists(Path.Combine(dir, "OVMF.fd"))
            ? Path.Combine(dir, "OVMF.fd")
            : null;

    private static void RunPreFault(BenchOptions o, TextWriter stdout)
    {
        ulong size = ParseSize(o.Size, "--size");
        ulong large = ParseSize(o.Large, "--large");
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

    private static void Validate(BenchOptions o)
    {
        ParseSize(o.Size, "--size");
        ParseSize(o.Large, "--large");
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
    }

    private static ulong ParseSize(string text, string option) =>
        SizeParser.TryParse(text, out ulong bytes, out _) && bytes > 0 && bytes % (1UL << 30) == 0 && bytes <= (1UL << 50)
            ? bytes
            : throw new CliInputException($"{option}: '{text}' is not a whole number of GiB up to 1 PiB (e.g. 64G)");
}
