using System.Diagnostics;
using CocoLaunch.Fuzz;
using SharpFuzz;

// CocoLaunch.Fuzz --target NAME                   run under afl-fuzz (fuzz/run.sh), one input per execution on stdin
// CocoLaunch.Fuzz --target NAME --replay PATH...  run files or directories of inputs in-process and report each crash
// CocoLaunch.Fuzz --list                          name the targets
string? target = null;
var replay = new List<string>();
bool inProcess = false;
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--target" when i + 1 < args.Length:
            target = args[++i];
            break;
        case "--replay":
            while (i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal))
            {
                replay.Add(args[++i]);
            }

            break;
        case "--in-process":
            inProcess = true;
            break;
        case "--list":
            Console.WriteLine(string.Join('\n', Targets.Names));
            return 0;
        default:
            Console.Error.WriteLine($"CocoLaunch.Fuzz: unexpected argument '{args[i]}'");
            return 2;
    }
}

if (target is null || !Targets.Names.Contains(target))
{
    Console.Error.WriteLine($"usage: CocoLaunch.Fuzz --target ({string.Join('|', Targets.Names)}) [--replay FILE|DIR...] [--in-process]");
    return 2;
}

using var harness = new Targets(target);
if (replay.Count == 0)
{
    // afl-fuzz: the input arrives on stdin. Out of process, the runtime that runs the target is a child that
    // SharpFuzz restarts after a crash, so one crash does not end the persistent loop.
    Action<Stream> run = stream =>
    {
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        harness.Run(buffer.ToArray());
    };
    if (inProcess)
    {
        Fuzzer.Run(run);
    }
    else
    {
        Fuzzer.OutOfProcess.Run(run);
    }

    return 0;
}

var files = replay.SelectMany<string, string>(p => Directory.Exists(p)
        ? Directory.EnumerateFiles(p, "*", SearchOption.AllDirectories).Where(f => !f.Contains("/.", StringComparison.Ordinal) && !f.EndsWith("README.txt", StringComparison.Ordinal)).Order(StringComparer.Ordinal)
        : [p])
    .ToList();
int crashes = 0, slow = 0;
var exits = new SortedDictionary<int, int>();
var total = Stopwatch.StartNew();
foreach (string file in files)
{
    var clock = Stopwatch.StartNew();
    try
    {
        int exit = harness.Run(File.ReadAllBytes(file));
        exits[exit] = exits.GetValueOrDefault(exit) + 1;
    }
#pragma warning disable CA1031 // replay reports every crash and goes on with the next input
    catch (Exception e)
#pragma warning restore CA1031
    {
        crashes++;
        Console.WriteLine($"CRASH {file}");
        Console.WriteLine("  " + e.ToString().Replace("\n", "\n  ", StringComparison.Ordinal));
    }

    if (clock.Elapsed > TimeSpan.FromSeconds(2))
    {
        slow++;
        Console.WriteLine($"SLOW {file}: {clock.Elapsed.TotalSeconds:F1} s");
    }
}

Console.WriteLine($"{target}: {files.Count} inputs in {total.Elapsed.TotalSeconds:F1} s, exits {string.Join(", ", exits.Select(e => $"{e.Key}:{e.Value}"))}, {crashes} crashes, {slow} slow");
return crashes == 0 ? 0 : 1;
