using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;
using CocoLaunch.Kvm;
using CocoLaunch.Memory;

namespace CocoLaunch.Vmm.Boot;

/// <summary>
/// Device DMA through the VMM's mapping of each memslot, as QEMU's address space reaches guest RAM: a private page
/// (by its memory attributes) is out of reach, as it is for a real device, and so is anything outside a memslot.
/// </summary>
public sealed class SharedGuestMemory(VmFd vm) : Devices.IDmaMemory
{
    public bool TryRead(Gpa gpa, Span<byte> destination)
    {
        if (Plan(gpa, destination.Length) is not { } pieces)
        {
            return false;
        }

        try
        {
            foreach (var (hva, at, n) in pieces)
            {
                vm.Kvm.Host.Read(hva, destination.Slice(at, n));
            }
        }
        catch (HostFaultException)
        {
            return false;
        }

        return true;
    }

    public bool TryWrite(Gpa gpa, ReadOnlySpan<byte> source)
    {
        if (Plan(gpa, source.Length) is not { } pieces)
        {
            return false;
        }

        try
        {
            foreach (var (hva, at, n) in pieces)
            {
                vm.Kvm.Host.Write(hva, source.Slice(at, n));
            }
        }
        catch (HostFaultException)
        {
            return false;
        }

        return true;
    }

    /// <summary>Every page's host address, checked first so a refused access moves nothing; null when one is out of reach.</summary>
    private List<(Hva Hva, int At, int Length)>? Plan(Gpa gpa, int length)
    {
        var pieces = new List<(Hva Hva, int At, int Length)>();
        for (int done = 0; done < length;)
        {
            ulong at = gpa.Value + (ulong)done, gfn = at / PageSize.Size4K;
            var slot = vm.Memslots.FirstOrDefault(s => s.Contains(gfn));
            if (slot is null || vm.AttributesOf(gfn).HasFlag(KvmMemoryAttributes.Private))
            {
                return null;
            }

            int n = (int)Math.Min((ulong)(length - done), PageSize.Size4K - (at % PageSize.Size4K));
            pieces.Add((slot.HostAddress(at), done, n));
            done += n;
        }

        return pieces;
    }
}
