using CocoLaunch.Abi.Kvm;

namespace CocoLaunch.Memory;

public sealed partial class GuestMemfd
{
    private readonly Dictionary<ulong, int> hostPins = [];

    /// <summary>mmap(2) checks: the file needs GUEST_MEMFD_FLAG_MMAP, and only MAP_SHARED is allowed.</summary>
    internal void CheckMmap(bool shared)
    {
        if (!Flags.HasFlag(Abi.Kvm.GuestMemfdFlags.Mmap))
        {
            throw new KvmException(Errno.ENODEV, "guest_memfd was created without GUEST_MEMFD_FLAG_MMAP");
        }

        if (!shared)
        {
            throw new KvmException(Errno.EINVAL, "guest_memfd can only be mapped MAP_SHARED");
        }
    }

    internal void HostRead(ulong offset, Span<byte> destination, Hva address)
    {
        CheckHostAccess(offset, (ulong)destination.Length, address);
        Pages.Read(offset, destination);
    }

    internal void HostWrite(ulong offset, ReadOnlySpan<byte> source, Hva address)
    {
        CheckHostAccess(offset, (ulong)source.Length, address);
        Pages.Write(offset, source);
    }

    /// <summary>Extra references held on a file page (GUP pins), which block conversion to private.</summary>
    public int HostPinCount(ulong page)
    {
        lock (hostPins)
        {
            return hostPins.GetValueOrDefault(page);
        }
    }

    internal void AdjustHostPin(ulong page, int delta, Hva address)
    {
        CheckHostAccess(page * Page, Page, address);
        lock (hostPins)
        {
            int count = hostPins.GetValueOrDefault(page) + delta;
            if (count < 0)
            {
                throw new InvalidOperationException($"guest_memfd page {page} unpinned more often than pinned");
            }

            if (count == 0)
            {
                hostPins.Remove(page);
            }
            else
            {
                hostPins[page] = count;
            }
        }
    }

    /// <summary>A host fault beyond i_size, or on a page the guest owns, is SIGBUS: the host can never map private memory.</summary>
    private void CheckHostAccess(ulong offset, ulong length, Hva address)
    {
        if (offset + length > Size)
        {
            throw new HostFaultException("SIGBUS", address, "access beyond the end of the guest_memfd");
        }

        for (ulong page = offset / Page; page * Page < offset + length; page++)
        {
            if (!Shareability.IsShared(page))
            {
                throw new HostFaultException("SIGBUS", address, $"guest_memfd page {page} is private to the guest");
            }
        }
    }
}
