using CocoLaunch.Abi;

namespace CocoLaunch.Memory;

/// <summary>
/// The most host memory the pages behind guest memory may take: every page a guest touches, a fault allocates or the
/// VMM writes, in the guest_memfds and anonymous mappings charged to it. It plays the part of the VMM's memory
/// cgroup limit (memory.max, Documentation/admin-guide/cgroup-v2.rst), to which the kernel charges both: a sparse
/// guest touching everything, or converting without end, stops at it instead of growing the host without bound.
/// </summary>
public sealed class HostMemoryLimit(ulong bytes)
{
    private const ulong Page = PageSize.Size4K;
    private long pages;
    private long refusals;

    public ulong Bytes { get; } = bytes;

    /// <summary>Bytes of the pages charged now.</summary>
    public ulong ChargedBytes => (ulong)Interlocked.Read(ref pages) * Page;

    /// <summary>Allocations refused so far: once non-zero, some page the guest or the VMM needed does not exist.</summary>
    public long Refusals => Interlocked.Read(ref refusals);

    /// <summary>"host memory limit of 64 MiB": how the limit is named in every message about it.</summary>
    public override string ToString() => $"host memory limit of {Describe(Bytes)}";

    /// <summary>Charges <paramref name="count"/> new pages, or throws without charging any.</summary>
    internal void Charge(ulong count, ulong firstIndex)
    {
        long after = Interlocked.Add(ref pages, (long)count);
        if ((ulong)after * Page > Bytes)
        {
            Interlocked.Add(ref pages, -(long)count);
            Interlocked.Increment(ref refusals);
            throw new HostMemoryLimitException(this, firstIndex);
        }
    }

    internal void Uncharge(ulong count) => Interlocked.Add(ref pages, -(long)count);

    private static string Describe(ulong bytes) =>
        bytes % (1UL << 30) == 0 ? $"{bytes >> 30} GiB" : bytes % (1UL << 20) == 0 ? $"{bytes >> 20} MiB" : $"{bytes} bytes";
}

/// <summary>A page could not be materialised: the <see cref="HostMemoryLimit"/> it is charged to is reached.</summary>
public sealed class HostMemoryLimitException(HostMemoryLimit limit, ulong pageIndex)
    : Exception($"{limit} reached ({limit.ChargedBytes} bytes in use) allocating page {pageIndex}")
{
    public HostMemoryLimit Limit { get; } = limit;
}
