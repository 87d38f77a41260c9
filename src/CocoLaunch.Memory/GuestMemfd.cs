using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;

namespace CocoLaunch.Memory;

/// <summary>Told when guest_memfd pages go away, so that stage-2 mappings of them can be zapped.</summary>
public interface IGuestMemfdInvalidation
{
    /// <summary>Pages [first, first + count) of the file changed; <paramref name="privateOnly"/> mirrors the newer kernels' PUNCH_HOLE rule.</summary>
    void Invalidate(ulong firstPage, ulong count, bool privateOnly);

    /// <summary>
    /// An invalidation that changes the pages' state starts (<c>kvm_mmu_invalidate_begin</c>): until
    /// <see cref="EndInvalidate"/>, faults of the bound VM retry, so none maps the state being replaced.
    /// </summary>
    void BeginInvalidate()
    {
    }

    void EndInvalidate()
    {
    }
}

/// <summary>
/// A guest_memfd file (<c>virt/kvm/guest_memfd.c</c>): private guest memory that the host cannot read
/// through ordinary file operations. One instance is one file and its inode; the owner is the VM that
/// created it, and only that VM may bind it to memslots.
/// </summary>
public sealed partial class GuestMemfd
{
    private const ulong Page = PageSize.Size4K;
    private static long nextInode = 1;

    private readonly object bindingsLock = new();
    private readonly List<Binding> bindings = [];
    private readonly HashSet<ulong> poisoned = [];

    // Faults check poison on every call; with nothing poisoned (the normal case) they take no lock.
    private volatile bool anyPoisoned;

    private GuestMemfd(object owner, ulong size, GuestMemfdFlags flags, bool inPlaceConversion)
    {
        Owner = owner;
        Size = size;
        Flags = flags;
        Inode = Interlocked.Increment(ref nextInode);
        // Merged kernels: INIT_SHARED makes the file start shared. RFC v2 (kvm_gmem_shareability_setup): bit 1 is
        // INIT_PRIVATE, and a file without it starts shared (SHAREABILITY_ALL).
        bool startShared = inPlaceConversion ? !flags.HasFlag(GuestMemfdFlags.InitPrivate) : flags.HasFlag(GuestMemfdFlags.InitShared);
        Shareability = new ShareabilityMap(size / Page, startShared);
        InPlaceConversion = inPlaceConversion;
    }

    /// <summary>The VM that created the file (bindings from another VM are refused).</summary>
    public object Owner { get; }

    public ulong Size { get; }

    public GuestMemfdFlags Flags { get; }

    public long Inode { get; }

    public bool IsClosed { get; private set; }

    public SparsePageStore Pages { get; } = new();

    /// <summary>Which pages the host may map (in-place conversion series); everything else is guest-only.</summary>
    internal ShareabilityMap Shareability { get; }

    /// <summary>Serialises fallocate, conversion and host faults like the kernel's invalidate lock.</summary>
    internal ReaderWriterLockSlim InvalidateLock { get; } = new(LockRecursionPolicy.SupportsRecursion);

    /// <summary>
    /// KVM_CREATE_GUEST_MEMFD's file creation. Check order as in <c>kvm_gmem_create</c>: flags, then a
    /// size that is zero or negative as loff_t, then alignment.
    /// </summary>
    public static GuestMemfd Create(object owner, ulong size, GuestMemfdFlags flags, GuestMemfdFlags supported, bool inPlaceConversion = false, GmemAttributes2Support? attributes2 = null)
    {
        if (inPlaceConversion)
        {
            // RFC v2 kvm_gmem_create: SUPPORT_SHARED is valid, and INIT_PRIVATE only together with it.
            supported = GuestMemfdFlags.SupportShared | (flags.HasFlag(GuestMemfdFlags.SupportShared) ? GuestMemfdFlags.InitPrivate : 0);
        }

        if ((flags & ~supported) != 0)
        {
            throw new KvmException(Errno.EINVAL, $"guest_memfd flags 0x{(ulong)flags:x} include unsupported bits 0x{(ulong)(flags & ~supported):x}");
        }

        if ((long)size <= 0)
        {
            throw new KvmException(Errno.EINVAL, $"guest_memfd size 0x{size:x} is not positive");
        }

        if (size % Page != 0)
        {
            throw new KvmException(Errno.EINVAL, $"guest_memfd size 0x{size:x} is not page aligned");
        }

        return new GuestMemfd(owner, size, flags, inPlaceConversion) { Attributes2 = attributes2 };
    }

    /// <summary>fstat(2): st_size and st_blksize.</summary>
    public (ulong Size, ulong BlockSize, long Inode) Stat() => (Size, Page, Inode);

    /// <summary>read(2)/write(2): guest_memfd has no read or write methods.</summary>
    public static void Read() => throw new KvmException(Errno.EINVAL, "guest_memfd has no read method");

    /// <summary>write(2): see <see cref="Read"/>.</summary>
    public static void Write() => throw new KvmException(Errno.EINVAL, "guest_memfd has no write method");

    /// <summary>pread/pwrite: the file is not seekable for I/O.</summary>
    public static void PositionalIo() => throw new KvmException(Errno.ESPIPE, "guest_memfd does not support pread/pwrite");

    /// <summary>ftruncate/chmod and other setattr calls are refused; the size never changes.</summary>
    public static void SetAttr() => throw new KvmException(Errno.EINVAL, "guest_memfd refuses setattr (ftruncate, chmod)");

    /// <summary>Closing the fd invalidates every binding; later private faults get EFAULT.</summary>
    public void Close()
    {
        IsClosed = true;
        List<Binding> gone;
        lock (bindingsLock)
        {
            gone = [.. bindings];
            bindings.Clear();
        }

        foreach (var b in gone)
        {
            b.Listener.Invalidate(b.FirstPage, b.Count, privateOnly: false);
        }
    }

    /// <summary>Marks a page hardware-poisoned: mappings are zapped, and a later fault gets EHWPOISON.</summary>
    public void Poison(ulong pageIndex)
    {
        lock (poisoned)
        {
            poisoned.Add(pageIndex);
            anyPoisoned = true;
        }

        InvalidateBound(pageIndex, 1, privateOnly: false);
    }

    /// <summary>How many pages from <paramref name="first"/> (up to <paramref name="max"/>) are not poisoned.</summary>
    public ulong HealthyRun(ulong first, ulong max)
    {
        if (!anyPoisoned)
        {
            return max;
        }

        lock (poisoned)
        {
            ulong run = max;
            foreach (ulong page in poisoned)
            {
                if (page >= first && page - first < run)
                {
                    run = page - first;
                }
            }

            return run;
        }
    }

    public bool IsPoisoned(ulong pageIndex)
    {
        if (!anyPoisoned)
        {
            return false;
        }

        lock (poisoned)
        {
            return poisoned.Contains(pageIndex);
        }
    }

    /// <summary><c>kvm_gmem_bind</c>'s range rule: a file page serves at most one memslot.</summary>
    public void Bind(object vm, ulong offset, ulong count, IGuestMemfdInvalidation listener, object slot)
    {
        if (!ReferenceEquals(vm, Owner))
        {
            throw new KvmException(Errno.EINVAL, "guest_memfd belongs to another VM");
        }

        ulong first = offset / Page;
        if (offset % Page != 0 || (long)offset < 0 || offset > Size || count > (Size - offset) / Page)
        {
            throw new KvmException(Errno.EINVAL, $"guest_memfd range at offset 0x{offset:x} for {count} pages does not fit the 0x{Size:x}-byte file");
        }

        lock (bindingsLock)
        {
            if (bindings.Any(b => b.FirstPage < first + count && first < b.FirstPage + b.Count))
            {
                throw new KvmException(Errno.EINVAL, $"guest_memfd pages at offset 0x{offset:x} are already bound to another memslot");
            }

            bindings.Add(new Binding(first, count, listener, slot));
        }
    }

    public void Unbind(object slot)
    {
        lock (bindingsLock)
        {
            bindings.RemoveAll(b => ReferenceEquals(b.Slot, slot));
        }
    }

    /// <summary>
    /// Brackets a change of page state (a conversion): every bound VM's faults retry from before the zap until the
    /// new state is stored, as kvm_gmem_convert_range does with kvm_mmu_invalidate_begin/end.
    /// </summary>
    internal void WhileInvalidating(Action change)
    {
        List<Binding> all;
        lock (bindingsLock)
        {
            all = [.. bindings];
        }

        foreach (var b in all)
        {
            b.Listener.BeginInvalidate();
        }

        try
        {
            change();
        }
        finally
        {
            foreach (var b in all)
            {
                b.Listener.EndInvalidate();
            }
        }
    }

    internal void InvalidateBound(ulong first, ulong count, bool privateOnly)
    {
        List<Binding> hit;
        lock (bindingsLock)
        {
            hit = bindings.Where(b => b.FirstPage < first + count && first < b.FirstPage + b.Count).ToList();
        }

        foreach (var b in hit)
        {
            ulong start = Math.Max(first, b.FirstPage);
            ulong end = Math.Min(first + count, b.FirstPage + b.Count);
            b.Listener.Invalidate(start, end - start, privateOnly);
        }
    }

    private sealed record Binding(ulong FirstPage, ulong Count, IGuestMemfdInvalidation Listener, object Slot);
}
