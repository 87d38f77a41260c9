using System.Diagnostics;
using System.Globalization;
using CocoLaunch.Tests.Shared;
using CocoLaunch.Vmm.Tests.ApiSequences;
using Xunit.Abstractions;

namespace CocoLaunch.Vmm.Tests;

/// <summary>
/// A property test over KVM API sequences: random ioctls (memslots with and without guest_memfd, memory attributes,
/// guest_memfd fallocate/punch/convert, pre-fault, TDX and SNP launch commands, KVM_RUN of small scripted guests,
/// corrupted arguments) on one VM per sequence, from 2–4 threads at once or from one thread with per-step checks.
/// Invariants: only errnos leave an ioctl; the stage-2 stats equal the leaves present; no private page is reachable
/// through a shared leaf and no GFN is mapped both ways; what the guest wrote survives conversions as the spec says.
/// </summary>
/// <remarks>
/// Every failure names its seed. Replay one with <c>COCOLAUNCH_PROPERTY_SEED=&lt;seed&gt;</c>; run more sequences
/// by hand with <c>COCOLAUNCH_PROPERTY_SEQUENCES=&lt;total per variant&gt;</c>.
/// </remarks>
public sealed class KvmApiSequenceTests(ITestOutputHelper output)
{
    private const int Batches = 8;
    private const long ConcurrentSeedBase = 2_000_000;
    private const long SingleSeedBase = 1_000_000;
    private const int DefaultConcurrentPerBatch = 160;
    private const int DefaultSinglePerBatch = 100;

    public static TheoryData<int> BatchIds => [.. Enumerable.Range(0, Batches)];

    [Theory]
    [MemberData(nameof(BatchIds))]
    public void Concurrent_RandomIoctlSequences_KeepInvariants(int batch) =>
        RunBatch(batch, ConcurrentSeedBase, DefaultConcurrentPerBatch, RunConcurrent);

    [Theory]
    [MemberData(nameof(BatchIds))]
    public void SingleThreaded_RandomIoctlSequences_KeepInvariantsAfterEveryStep(int batch) =>
        RunBatch(batch, SingleSeedBase, DefaultSinglePerBatch, RunSingle);

    private void RunBatch(int batch, long seedBase, int perBatch, Func<long, SequenceResult> run)
    {
        var seeds = Seeds(batch, seedBase, perBatch);
        var clock = Stopwatch.StartNew();
        long operations = 0, errnos = 0, checkedReads = 0;
        var failures = new List<string>();
        foreach (long seed in seeds)
        {
            var result = run(seed);
            operations += result.Operations;
            errnos += result.Errnos;
            checkedReads += result.CheckedReads;
            failures.AddRange(result.Failures);
            if (failures.Count >= 5)
            {
                break;
            }
        }

        output.WriteLine($"{seeds.Count} sequences, {operations} ioctls ({errnos} errnos), {checkedReads} guest reads checked, {clock.Elapsed.TotalSeconds:F1} s");
        Assert.True(failures.Count == 0, string.Join("\n\n", failures.Take(5)) + "\n\nReplay: COCOLAUNCH_PROPERTY_SEED=<seed>");
    }

    /// <summary>This batch's seeds, or only the replayed one when COCOLAUNCH_PROPERTY_SEED names a seed of this variant.</summary>
    private static List<long> Seeds(int batch, long seedBase, int perBatch)
    {
        if (Environment.GetEnvironmentVariable("COCOLAUNCH_PROPERTY_SEED") is { Length: > 0 } replay)
        {
            long seed = long.Parse(replay, CultureInfo.InvariantCulture);
            return batch == 0 && seed >= seedBase && seed < seedBase + 1_000_000 ? [seed] : [];
        }

        if (Environment.GetEnvironmentVariable("COCOLAUNCH_PROPERTY_SEQUENCES") is { Length: > 0 } total)
        {
            perBatch = Math.Max(1, int.Parse(total, CultureInfo.InvariantCulture) / Batches);
        }

        long first = seedBase + ((long)batch * (1_000_000 / Batches));
        return [.. Enumerable.Range(0, perBatch).Select(i => first + i)];
    }

    private sealed record SequenceResult(long Operations, long Errnos, long CheckedReads, List<string> Failures);

    private static (SequenceVm Vm, ExitConversion Conversion)? Setup(long seed, Random master, List<string> failures)
    {
        var kinds = Enum.GetValues<SequenceVmKind>();
        var kind = kinds[master.Next(kinds.Length)];
        var conversion = kind == SequenceVmKind.SwProtectedInPlace ? ExitConversion.InPlace : master.Next(3) == 0 ? ExitConversion.AttributesWithPunch : ExitConversion.Attributes;
        try
        {
            return (new SequenceVm(kind, new Random(master.Next())), conversion);
        }
        catch (Exception e)
        {
            failures.Add($"seed {seed} ({kind}): setup failed: {e}");
            return null;
        }
    }

    /// <summary>2–4 threads on one VM: threads 0 and 1 also run guests on vCPU 0 and 1; the others change memory under them.</summary>
    private static SequenceResult RunConcurrent(long seed)
    {
        var master = new Random((int)seed);
        var failures = new List<string>();
        if (Setup(seed, master, failures) is not var (w, conversion))
        {
            return new SequenceResult(0, 0, 0, failures);
        }

        var runner = new SequenceRunner(w, seed, conversion, shadow: null);
        int threadCount = master.Next(2, 5);
        int steps = master.Next(8, 24);
        var start = new Barrier(threadCount);
        var threads = new Thread[threadCount];
        for (int t = 0; t < threadCount; t++)
        {
            int thread = t;
            var random = new Random(unchecked((int)((seed * 7919) + (thread * 104_729) + 1)));
            threads[t] = new Thread(() =>
            {
                start.SignalAndWait();
                for (int step = 0; step < steps; step++)
                {
                    try
                    {
                        runner.Step(random, thread, step, runsGuests: thread < 2);
                    }
                    catch (Exception e)
                    {
                        runner.Fail(thread, step, "the test's own step", e.ToString());
                    }
                }
            }) { IsBackground = true, Name = $"seq {seed} t{thread}" };
            threads[t].Start();
        }

        foreach (var thread in threads)
        {
            if (!thread.Join(TimeSpan.FromSeconds(30)))
            {
                failures.Add($"seed {seed} ({w.Kind}): thread {thread.Name} did not finish in 30 s (deadlock?)");
                return new SequenceResult(runner.Operations, runner.Errnos, 0, [.. failures, .. runner.Failures]);
            }
        }

        if (Stage2Invariants.Check(w) is { } violation)
        {
            failures.Add($"seed {seed} ({w.Kind}, {threadCount} threads, {steps} steps each): after the sequence: {violation}");
        }

        return new SequenceResult(runner.Operations, runner.Errnos, 0, [.. runner.Failures, .. failures]);
    }

    /// <summary>One thread, invariants after every step, and every guest read checked against what the guest wrote.</summary>
    private static SequenceResult RunSingle(long seed)
    {
        var master = new Random((int)seed);
        var failures = new List<string>();
        if (Setup(seed, master, failures) is not var (w, conversion))
        {
            return new SequenceResult(0, 0, 0, failures);
        }

        var shadow = new DataShadow(w);
        var runner = new SequenceRunner(w, seed, conversion, shadow);
        var random = new Random(master.Next());
        int steps = master.Next(20, 60);
        for (int step = 0; step < steps && runner.Failures.IsEmpty; step++)
        {
            try
            {
                if (random.Next(3) == 0)
                {
                    // A one-access guest, so what it read or wrote can be placed exactly.
                    var action = runner.RandomAction(random);
                    var guest = runner.RunGuest(random, 0, step, w.Vcpus[0], [action]);
                    if (guest?.Results is [{ } result])
                    {
                        switch (action)
                        {
                            case GuestAction.Write write:
                                shadow.Wrote(write);
                                break;
                            case GuestAction.Read read when shadow.Read(read, result.Data!) is { } mismatch:
                                runner.Fail(0, step, $"guest {read}", mismatch);
                                break;
                        }
                    }
                }
                else
                {
                    runner.Step(random, 0, step, runsGuests: false);
                }
            }
            catch (Exception e)
            {
                runner.Fail(0, step, "the test's own step", e.ToString());
            }

            if (Stage2Invariants.Check(w) is { } violation)
            {
                runner.Fail(0, step, "after the step", violation);
            }
        }

        return new SequenceResult(runner.Operations, runner.Errnos, shadow.Checked, [.. runner.Failures, .. failures]);
    }
}
