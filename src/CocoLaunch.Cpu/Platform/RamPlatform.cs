using System.Runtime.InteropServices;

namespace CocoLaunch.Cpu.Platform;

/// <summary>
/// A bare machine for the CPU alone: RAM from GPA 0 up to 3 GiB and the rest above 4 GiB (as QEMU's pc machine
/// splits it round the PCI hole), a firmware image ending at 4 GiB (as <c>qemu -bios</c> maps it) and nothing
/// else, so every other address is MMIO. Pages are allocated on first touch: a guest with a terabyte of RAM
/// costs only what it writes.
/// </summary>
public sealed unsafe class RamPlatform : IPlatform, IDisposable
{
    private const ulong PageSize = 4096;
    private readonly Dictionary<ulong, nint> pages = [];
    private const ulong LowRamLimit = 0xC000_0000;
    private readonly ulong lowRamPages;
    private readonly ulong highRamPages;
    private readonly ulong romFirstGfn;
    private readonly byte[] rom;

    public RamPlatform(ulong ramBytes, ReadOnlySpan<byte> firmware = default)
    {
        if (firmware.Length % (int)PageSize != 0 || (ulong)firmware.Length > 0x1_0000_0000UL - LowRamLimit)
        {
            throw new ArgumentException($"the firmware must be whole pages and at most 1 GiB ({firmware.Length} bytes)", nameof(firmware));
        }

        lowRamPages = Math.Min(ramBytes, LowRamLimit) / PageSize;
        highRamPages = (ramBytes - Math.Min(ramBytes, LowRamLimit)) / PageSize;
        rom = firmware.ToArray();
        romFirstGfn = (0x1_0000_0000UL - (ulong)rom.Length) / PageSize;
    }

    /// <summary>Pages of RAM and ROM touched so far.</summary>
    public int PagesAllocated => pages.Count;

    public byte* RamPage(ulong gfn, bool isPrivate, bool write)
    {
        bool inRom = rom.Length > 0 && gfn >= romFirstGfn && gfn < 0x10_0000;
        bool inRam = gfn < lowRamPages || (gfn >= 0x10_0000 && gfn - 0x10_0000 < highRamPages);
        if (!inRam && !inRom)
        {
            return null;
        }

        if (!pages.TryGetValue(gfn, out nint page))
        {
            page = (nint)NativeMemory.AllocZeroed((nuint)PageSize);
            if (inRom)
            {
                rom.AsSpan((int)((gfn - romFirstGfn) * PageSize), (int)PageSize).CopyTo(new Span<byte>((void*)page, (int)PageSize));
            }

            pages[gfn] = page;
        }

        return (byte*)page;
    }

    public void Write(ulong gpa, ReadOnlySpan<byte> bytes)
    {
        for (int done = 0; done < bytes.Length;)
        {
            ulong at = gpa + (ulong)done;
            byte* page = RamPage(at / PageSize, isPrivate: false, write: true);
            if (page == null)
            {
                throw new ArgumentOutOfRangeException(nameof(gpa), $"0x{at:x} is not RAM");
            }

            int n = Math.Min(bytes.Length - done, (int)(PageSize - (at % PageSize)));
            bytes.Slice(done, n).CopyTo(new Span<byte>(page + (at % PageSize), n));
            done += n;
        }
    }

    public byte[] Read(ulong gpa, int length)
    {
        var bytes = new byte[length];
        for (int done = 0; done < length;)
        {
            ulong at = gpa + (ulong)done;
            byte* page = RamPage(at / PageSize, isPrivate: false, write: false);
            if (page == null)
            {
                throw new ArgumentOutOfRangeException(nameof(gpa), $"0x{at:x} is not RAM");
            }

            int n = Math.Min(length - done, (int)(PageSize - (at % PageSize)));
            new Span<byte>(page + (at % PageSize), n).CopyTo(bytes.AsSpan(done));
            done += n;
        }

        return bytes;
    }

    public void Dispose()
    {
        foreach (var page in pages.Values)
        {
            NativeMemory.Free((void*)page);
        }

        pages.Clear();
    }
}
