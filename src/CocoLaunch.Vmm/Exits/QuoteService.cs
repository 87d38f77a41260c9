using CocoLaunch.Kvm;

namespace CocoLaunch.Vmm.Exits;

/// <summary>
/// The host's quote service as the VMM reaches it for TDVMCALL&lt;GetQuote&gt;: a request stays in flight (the
/// guest sees status IN_FLIGHT and polls, as Linux's tdx-guest driver does once a second) for
/// <see cref="Latency"/> of guest time, then the emulated quoting enclave answers in the shared buffer. The guest
/// converting the buffer, or the run ending, finishes it earlier. Every quote made is kept for <c>--evidence-out</c>.
/// </summary>
public sealed class QuoteService(VmFd vm, HostReferences references)
{
    private readonly List<byte[]> quotes = [];
    private readonly Dictionary<VcpuFd, List<(ulong Gpa, ulong Size, ulong Due)>> inFlight = [];

    /// <summary>How long a quote takes, in TSC ticks: 20 ms at KVM's default TSC rate, the order of a DCAP quote.</summary>
    public ulong Latency { get; init; } = VcpuFd.DefaultTscKhz * 20;

    /// <summary>When the earliest request <paramref name="vcpu"/> has in flight is due (guest TSC), or null.</summary>
    public ulong? NextDue(VcpuFd vcpu)
    {
        lock (inFlight)
        {
            return inFlight.TryGetValue(vcpu, out var mine) && mine.Count > 0 ? mine.Min(r => r.Due) : null;
        }
    }

    /// <summary>The quotes made so far, in the order they were made.</summary>
    public IReadOnlyList<byte[]> Quotes
    {
        get
        {
            lock (quotes)
            {
                return [.. quotes];
            }
        }
    }

    /// <summary>
    /// Takes a GetQuote request: in flight, due after <see cref="Latency"/>; the exit loop sets the vCPU's host timer
    /// from <see cref="NextDue"/> before its next entry.
    /// </summary>
    public ExitOutcome Request(VcpuFd vcpu, KvmExit.TdxGetQuote q)
    {
        var outcome = ExitHandlers.GetQuote(vm, q, references, Keep);
        if (q.Ret == TdVmcallStatus.Success)
        {
            ulong due = (vcpu.Cpu?.Tsc ?? 0) + Latency;
            lock (inFlight)
            {
                (inFlight.TryGetValue(vcpu, out var mine) ? mine : inFlight[vcpu] = []).Add((q.Gpa, q.Size, due));
            }
        }

        return outcome;
    }

    /// <summary>
    /// KVM_EXIT_INTR on <paramref name="vcpu"/>: answers the requests it has in flight whose time has come; false when
    /// none was due (the kick was the run's own: its limit, or its end).
    /// </summary>
    public bool AnswerDue(VcpuFd vcpu)
    {
        ulong now = vcpu.Cpu?.Tsc ?? 0;
        List<(ulong Gpa, ulong Size, ulong Due)> due;
        lock (inFlight)
        {
            if (!inFlight.TryGetValue(vcpu, out var mine))
            {
                return false;
            }

            due = mine.FindAll(r => r.Due <= now);
            mine.RemoveAll(r => r.Due <= now);
            if (mine.Count == 0)
            {
                inFlight.Remove(vcpu);
            }
        }

        foreach (var (gpa, size, _) in due)
        {
            references.Release(gpa, size); // nothing, if the guest's conversion already finished it
        }

        return due.Count > 0;
    }

    private void Keep(byte[] quote)
    {
        lock (quotes)
        {
            quotes.Add(quote);
        }
    }
}
