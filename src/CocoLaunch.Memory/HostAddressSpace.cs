using CocoLaunch.Abi;

namespace CocoLaunch.Memory;

/// <summary>One mmap of the VMM: anonymous memory, or a view of a guest_memfd.</summary>
public sealed class HostRegion
{
    private readonly Dictionary<ulong, int> pins = [];
    private readonly HashSet<ulong> populated = [];

    internal HostRegion(Hva start, ulong size, ulong backingPageSize, bool missingUntilPopulated, GuestMemfd? gmem, ulong gmemOffset)
    {
        Start = start;
        Size = size;
        BackingPageSize = backingPageSize;
        MissingUntilPopulated = missingUntilPopulated;
        GuestMemfd = gmem;
        GuestMemfdOffset = gmemOffset;
    }

    public Hva Start { get; }

    public ulong Size { get; }

    /// <summary>4K for ordinary pages, 2M for THP, 1G for hugetlbfs: the largest stage-2 leaf this backing allows.</summary>
    public ulong BackingPageSize { get; }

    /// <summary>Pages are absent until the VMM populates them (userfaultfd-managed postcopy memory).</summary>
    public bool MissingUntilPopulated { get; }

    public GuestMemfd? GuestMemfd { get; }

    /// <summary>For a read-only file mapping (mmap of an image): the file's bytes, read in place, never copied.</summary>
    public ReadOnlyMemory<byte>? File { get; init; }

    public ulong GuestMemfdOffset { get; }

    internal SparsePageStore Pages { get; } = new();

    public ulong End => Start.Value + Size;

    public bool Contains(Hva address) => address.Value >= Start.Value && address.Value < End;

    /// <summary>Whether a fast GUP of the page would succeed (the page is present in the host page tables).</summary>
    public bool IsPresent(ulong pageIndex)
    {
        if (!MissingUntilPopulated)
        {
            return true;
        }

        lock (populated)
        {
            return populated.Contains(pageIndex);
        }
    }

    /// <summary>How many pages from <paramref name="first"/> (up to <paramref name="max"/>) are present.</summary>
    public ulong PresentRun(ulong first, ulong max)
    {
        ulong run = 0;
        while (run < max && IsPresent(first + run))
        {
            run++;
        }

        return run;
    }

    /// <summary>Records pages [first, last] as present; only userfault-managed regions track this.</summary>
    internal void MarkPopulated(ulong first, ulong last)
    {
        if (!MissingUntilPopulated)
        {
            return;
        }

        lock (populated)
        {
            for (ulong page = first; page <= last; page++)
            {
                populated.Add(page);
            }
        }
    }

    internal int PinCount(ulong pageIndex)
    {
        lock (pins)
        {
            return pins.GetValueOrDefault(pageIndex);
        }
    }

    internal void AdjustPin(ulong pageIndex, int delta)
    {
        lock (pins)
        {
            int count = pins.GetValueOrDefault(pageIndex) + delta;
            if (count < 0)
            {
                throw new InvalidOperationException($"page {pageIndex} of region {Start} unpinned more often than pinned");
            }

            if (count == 0)
            {
                pins.Remove(pageIndex);
            }
            else
            {
                pins[pageIndex] = count;
            }
        }
    }
}

/// <summary>The VMM process's address space: sparse, so a 1 TiB mapping costs only the pages touched.</summary>
public sealed class HostAddressSpace
{
    private const ulong Page = PageSize.Size4K;
    private readonly object mapLock = new();
    // Regions in address order (mappings only ever go above the last one). Appends fill spare capacity and then
    // publish a longer view; a full array is copied once per doubling, not once per mapping.
    private volatile RegionList regions = new([], 0);
    private ulong next = 0x1000_0000_0000;

    /// <summary>What the pages of anonymous mappings, and of guest_memfds made for this process, are charged to.</summary>
    public HostMemoryLimit? Limit { get; init; }

    /// <summary>mmap of anonymous memory, aligned to its backing page size (so THP/hugetlb can back it fully).</summary>
    public Hva Map(ulong size, ulong backingPageSize = PageSize.Size4K, bool missingUntilPopulated = false) =>
        Add(size, backingPageSize, missingUntilPopulated, null, 0).Start;

    /// <summary>
    /// mmap(PROT_READ) of a file's bytes, as a VMM maps a firmware image: reads see the file, writes fault. The bytes
    /// must not change while mapped: guest_memfd pages SNP_LAUNCH_UPDATE fills from them read them in place (SparsePageStore.Lend).
    /// </summary>
    public Hva MapFile(ReadOnlyMemory<byte> file)
    {
        ulong size = ((ulong)file.Length + Page - 1) / Page * Page;
        return Add(size, Page, false, null, 0, file).Start;
    }

    /// <summary>mmap(MAP_SHARED) of a guest_memfd created with GUEST_MEMFD_FLAG_MMAP.</summary>
    public Hva MapGuestMemfd(GuestMemfd gmem, ulong offset, ulong size, bool shared)
    {
        gmem.CheckMmap(shared);
        return Add(size, Page, false, gmem, offset).Start;
    }

    public HostRegion? Find(Hva address)
    {
        var (snapshot, count) = regions;
        int lo = 0, hi = count - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) / 2;
            var r = snapshot[mid];
            if (address.Value < r.Start.Value)
            {
                hi = mid - 1;
            }
            else if (address.Value >= r.End)
            {
                lo = mid + 1;
            }
            else
            {
                return r;
            }
        }

        return null;
    }

    public void Read(Hva address, Span<byte> destination)
    {
        // The common case, one plain region, without building the chunk list.
        if (Find(address) is { GuestMemfd: null, MissingUntilPopulated: false } only && address.Value + (ulong)destination.Length <= only.End)
        {
            ReadPlain(only, address.Value - only.Start.Value, destination);
            return;
        }

        foreach (var (r, offset, chunk, done) in Chunks(address, destination.Length))
        {
            var part = destination.Slice(done, chunk);
            if (r.GuestMemfd is { } gmem)
            {
                gmem.HostRead(r.GuestMemfdOffset + offset, part, address);
            }
            else
            {
                r.MarkPopulated(offset / Page, (offset + (ulong)chunk - 1) / Page);
                ReadPlain(r, offset, part);
            }
        }
    }

    /// <summary>
    /// The host address of the anonymous page at <paramref name="address"/>, populating it; null for file and
    /// guest_memfd mappings and unmapped addresses. See <see cref="SparsePageStore.PagePointer"/> for its lifetime.
    /// </summary>
    public unsafe byte* PagePointer(Hva address)
    {
        if (Find(address) is not { GuestMemfd: null, File: null } r)
        {
            return null;
        }

        ulong page = (address.Value - r.Start.Value) / Page;
        r.MarkPopulated(page, page);
        return r.Pages.PagePointer(page);
    }

    /// <summary>The bytes of a read-only file mapping in place, when [address, address + length) lies inside one; else false.</summary>
    public bool TryGetFileBytes(Hva address, int length, out ReadOnlyMemory<byte> bytes)
    {
        bytes = default;
        if (Find(address) is not { File: { } file } r || address.Value + (ulong)length > r.Start.Value + (ulong)file.Length)
        {
            return false;
        }

        bytes = file.Slice((int)(address.Value - r.Start.Value), length);
        return true;
    }

    /// <summary>Writes, populating missing pages as a userfaultfd UFFDIO_COPY would.</summary>
    public void Write(Hva address, ReadOnlySpan<byte> source)
    {
        foreach (var (r, offset, chunk, done) in Chunks(address, source.Length))
        {
            var part = source.Slice(done, chunk);
            if (r.GuestMemfd is { } gmem)
            {
                gmem.HostWrite(r.GuestMemfdOffset + offset, part, address);
            }
            else if (r.File is not null)
            {
                throw new HostFaultException("SIGSEGV", new Hva(r.Start.Value + offset), "write to a read-only file mapping");
            }
            else
            {
                r.MarkPopulated(offset / Page, (offset + (ulong)chunk - 1) / Page);
                r.Pages.Write(offset, part);
            }
        }
    }

    /// <summary>MADV_POPULATE_WRITE: makes missing pages present (zero-filled) without changing present ones.</summary>
    public void Populate(Hva address, ulong size)
    {
        for (ulong a = address.Value - address.Value % Page; a < address.Value + size; a += Page)
        {
            var r = Find(new Hva(a)) ?? throw new HostFaultException("SIGSEGV", new Hva(a), "no mapping");
            r.MarkPopulated((a - r.Start.Value) / Page, (a - r.Start.Value) / Page);
        }
    }

    /// <summary>MADV_DONTNEED on anonymous memory: the pages are freed and read back as zeros.</summary>
    public void Discard(Hva address, ulong size)
    {
        var r = Find(address) ?? throw new HostFaultException("SIGSEGV", address, "no mapping");
        ulong offset = address.Value - r.Start.Value;
        r.Pages.RemoveRange(offset / Page, size / Page);
    }

    /// <summary>get_user_pages with FOLL_PIN: an extra reference that conversion to private must see.</summary>
    public void Pin(Hva address) => AdjustPin(address, +1);

    public void Unpin(Hva address) => AdjustPin(address, -1);

    private void AdjustPin(Hva address, int delta)
    {
        var r = Find(address) ?? throw new HostFaultException("SIGSEGV", address, "no mapping");
        ulong offset = address.Value - r.Start.Value;
        if (r.GuestMemfd is { } gmem)
        {
            gmem.AdjustHostPin((r.GuestMemfdOffset + offset) / Page, delta, address);
        }
        else
        {
            r.AdjustPin(offset / Page, delta);
        }
    }

    private List<(HostRegion Region, ulong Offset, int Chunk, int Done)> Chunks(Hva address, int length)
    {
        var chunks = new List<(HostRegion, ulong, int, int)>();
        int done = 0;
        while (done < length)
        {
            var at = new Hva(address.Value + (ulong)done);
            var r = Find(at) ?? throw new HostFaultException("SIGSEGV", at, "no mapping");
            ulong offset = at.Value - r.Start.Value;
            int chunk = (int)Math.Min((ulong)(length - done), r.End - at.Value);
            chunks.Add((r, offset, chunk, done));
            done += chunk;
        }

        return chunks;
    }

    private static void ReadPlain(HostRegion r, ulong offset, Span<byte> destination)
    {
        if (r.File is not { } file)
        {
            r.Pages.Read(offset, destination);
            return;
        }

        // Past the end of the file, the last page of the mapping reads as zeros (as mmap does).
        int available = (int)Math.Clamp((long)file.Length - (long)offset, 0, destination.Length);
        file.Span.Slice((int)offset, available).CopyTo(destination);
        destination[available..].Clear();
    }

    private HostRegion Add(ulong size, ulong backing, bool missing, GuestMemfd? gmem, ulong gmemOffset, ReadOnlyMemory<byte>? file = null)
    {
        if (size == 0 || size % Page != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(size), size, "mapping size must be a positive multiple of 4 KiB");
        }

        lock (mapLock)
        {
            ulong align = Math.Max(backing, PageSize.Size2M);
            ulong start = (next + align - 1) / align * align;
            next = start + size + PageSize.Size2M; // a guard gap keeps neighbouring mappings from touching
            var region = new HostRegion(new Hva(start), size, backing, missing, gmem, gmemOffset) { File = file };
            region.Pages.Limit = Limit;
            var (items, count) = regions;
            if (count == items.Length)
            {
                Array.Resize(ref items, Math.Max(16, count * 2));
            }

            items[count] = region;
            regions = new RegionList(items, count + 1);
            return region;
        }
    }
}

/// <summary>A published view of the first <paramref name="Count"/> regions of an array that may have spare capacity.</summary>
internal sealed record RegionList(HostRegion[] Items, int Count);

