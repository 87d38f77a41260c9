using CocoLaunch.Abi;
using CocoLaunch.Kvm;

namespace CocoLaunch.Vmm.Exits;

/// <summary>
/// Guest pages the VMM holds a reference on while it works with them (an I/O in flight, a quote being made), each
/// pinned in host memory until its work completes. An in-place conversion of a held page fails with EAGAIN;
/// the VMM then completes the work on that range, which drops the pins, and converts again.
/// </summary>
public sealed class HostReferences(VmFd vm)
{
    private readonly List<Hold> holds = [];

    private sealed record Hold(ulong Gpa, ulong Size, List<Memory.Hva> Pins, Action Complete);

    public int Count
    {
        get
        {
            lock (holds)
            {
                return holds.Count;
            }
        }
    }

    /// <summary>Pins [gpa, gpa + size) for work that <paramref name="complete"/> finishes (it runs before the pins go).</summary>
    public void Take(ulong gpa, ulong size, Action complete)
    {
        var pins = new List<Memory.Hva>();
        for (ulong at = gpa & ~(PageSize.Size4K - 1); at < gpa + size; at += PageSize.Size4K)
        {
            if (HostAddress(at) is { } hva)
            {
                vm.Kvm.Host.Pin(hva);
                pins.Add(hva);
            }
        }

        lock (holds)
        {
            holds.Add(new Hold(gpa, size, pins, complete));
        }
    }

    /// <summary>Completes the work on every held range overlapping [gpa, gpa + size) and drops its pins; how many there were.</summary>
    public int Release(ulong gpa, ulong size)
    {
        List<Hold> done;
        lock (holds)
        {
            done = [.. holds.Where(h => h.Gpa < gpa + size && gpa < h.Gpa + h.Size)];
            holds.RemoveAll(done.Contains);
        }

        foreach (var hold in done)
        {
            hold.Complete();
            hold.Pins.ForEach(vm.Kvm.Host.Unpin);
        }

        return done.Count;
    }

    private Memory.Hva? HostAddress(ulong gpa)
    {
        var slot = vm.Memslots.FirstOrDefault(s => s.Contains(gpa / PageSize.Size4K));
        return slot?.HostAddress(gpa);
    }
}
