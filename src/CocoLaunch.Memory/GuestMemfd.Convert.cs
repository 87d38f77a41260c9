using CocoLaunch.Abi.Kvm;

namespace CocoLaunch.Memory;

public sealed partial class GuestMemfd
{
    /// <summary>Whether the file takes KVM_GMEM_CONVERT_* (the in-place conversion series is enabled).</summary>
    public bool InPlaceConversion { get; }

    /// <summary>Whether the guest owns the page (private) rather than sharing it with the host.</summary>
    public bool IsPrivatePage(ulong page) => !Shareability.IsShared(page);

    /// <summary>Whether every page of [first, first + count) is private (or, with <paramref name="isPrivate"/> false, shared); false past the end.</summary>
    public bool IsUniform(ulong first, ulong count, bool isPrivate) =>
        first + count <= Shareability.Pages && Shareability.Snapshot.IsUniform(first, first + count, !isPrivate);

    /// <summary>KVM_GMEM_CONVERT_SHARED (RFC v2): the pages become host-mappable; contents are kept (same pages, no copy).</summary>
    public void ConvertShared(ref KvmGmemConvert args) => Convert(ref args, toShared: true);

    /// <summary>
    /// KVM_GMEM_CONVERT_PRIVATE (RFC v2): host mappings of the range are removed, then every page must have no
    /// extra reference; a pinned page fails the whole call with EAGAIN and error_offset naming it.
    /// </summary>
    public void ConvertPrivate(ref KvmGmemConvert args) => Convert(ref args, toShared: false);

    private void Convert(ref KvmGmemConvert args, bool toShared)
    {
        if (!InPlaceConversion || Attributes2 is not null)
        {
            // The RFC's ioctls; the attributes series (v8) converts with KVM_SET_MEMORY_ATTRIBUTES2 instead.
            throw new KvmException(Errno.ENOTTY, "guest_memfd in-place conversion (RFC v2) is not enabled");
        }

        if (args.ErrorOffset != 0)
        {
            throw new KvmException(Errno.EINVAL, "error_offset must be 0 on input");
        }

        if (args.Size == 0)
        {
            return;
        }

        if (args.Offset + args.Size < args.Offset || args.Offset > Size || args.Offset + args.Size > Size)
        {
            throw new KvmException(Errno.EINVAL, $"conversion range [0x{args.Offset:x},+0x{args.Size:x}) exceeds the 0x{Size:x}-byte file");
        }

        if (args.Offset % Page != 0 || args.Size % Page != 0)
        {
            throw new KvmException(Errno.EINVAL, $"conversion range [0x{args.Offset:x},+0x{args.Size:x}) is not page aligned");
        }

        ulong first = args.Offset / Page;
        ulong count = args.Size / Page;
        InvalidateLock.EnterWriteLock();
        try
        {
            var changing = Shareability.Snapshot.Runs(first, first + count).Where(r => r.Value != toShared).ToList();
            if (changing.Count == 0)
            {
                return;
            }

            // kvm_gmem_convert_range: invalidation begins (KVM mappings of every changing range are zapped, shared
            // and private) for all ranges first; only then does kvm_gmem_convert_should_proceed unmap host PTEs and
            // check refcounts. An EAGAIN therefore leaves the guest's mappings zapped, with no state changed.
            ulong? pinned = null;
            WhileInvalidating(() =>
            {
                foreach (var (start, end, _) in changing)
                {
                    InvalidateBound(start, end - start, privateOnly: false);
                }

                pinned = toShared ? null : FirstPinned(changing);
                if (pinned is null)
                {
                    foreach (var (start, end, _) in changing)
                    {
                        Shareability.Set(start, end - start, toShared);
                    }
                }
            });
            if (pinned is { } page)
            {
                args.ErrorOffset = page * Page;
                throw new KvmException(Errno.EAGAIN, $"guest_memfd page {page} is still referenced by the host");
            }
        }
        finally
        {
            InvalidateLock.ExitWriteLock();
        }
    }

    /// <summary>
    /// The refcount check of a conversion to private: host PTEs are gone once the invalidate lock is held (host
    /// accesses check shareability), so what remains are pins. The first pinned page, which fails the call with
    /// EAGAIN, or null.
    /// </summary>
    private ulong? FirstPinned(IEnumerable<(ulong Start, ulong End, bool Shared)> runs)
    {
        foreach (var (start, end, _) in runs)
        {
            for (ulong page = start; page < end; page++)
            {
                if (HostPinCount(page) > 0)
                {
                    return page;
                }
            }
        }

        return null;
    }
}
