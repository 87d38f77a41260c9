using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;
using CocoLaunch.Kvm;

namespace CocoLaunch.Vmm.Exits;

/// <summary>Converts a GPA range between shared and private, the one place both the hypercall and fault handlers use.</summary>
public static class MemoryConversion
{
    private const ulong Page = PageSize.Size4K;

    /// <summary>Converts [gpa, gpa + size); returns null on success, else why not (nothing is left half-converted by KVM).</summary>
    public static string? Convert(VmFd vm, Gpa gpa, ulong size, bool toPrivate, ConversionMode mode) => Convert(vm, gpa, size, toPrivate, mode, null, out _);

    /// <summary>
    /// As above; a conversion that meets a page the VMM holds (EAGAIN, in place) has <paramref name="references"/>
    /// complete the work on the range and is tried again, once. <paramref name="retried"/> says whether that happened.
    /// </summary>
    public static string? Convert(VmFd vm, Gpa gpa, ulong size, bool toPrivate, ConversionMode mode, HostReferences? references, out bool retried)
    {
        retried = false;
        string? problem = ConvertOnce(vm, gpa, size, toPrivate, mode, out var errno);
        if (errno == Errno.EAGAIN && references is not null && references.Release(gpa.Value, size) > 0)
        {
            retried = true;
            problem = ConvertOnce(vm, gpa, size, toPrivate, mode, out _);
        }
        else if (problem is null && mode != ConversionMode.InPlace)
        {
            // Attributes ignore host references; the work on the range still has to finish before a discard undoes it.
            references?.Release(gpa.Value, size);
        }

        return problem;
    }

    private static string? ConvertOnce(VmFd vm, Gpa gpa, ulong size, bool toPrivate, ConversionMode mode, out Errno? errno)
    {
        errno = null;
        // Only guest RAM converts: QEMU refuses a range that is not all RAM ("Cannot convert non-RAM").
        if (Uncovered(vm, gpa.Value, gpa.Value + size) is ulong hole)
        {
            return $"converting [{gpa},+0x{size:x}) to {(toPrivate ? "private" : "shared")}: GPA 0x{hole:x} is not guest memory";
        }

        try
        {
            if (mode == ConversionMode.InPlace)
            {
                foreach (var (slot, offset, length) in GmemRanges(vm, gpa, size))
                {
                    var args = new KvmGmemConvert { Offset = offset, Size = length };
                    if (toPrivate)
                    {
                        slot.GuestMemfd!.ConvertPrivate(ref args);
                    }
                    else
                    {
                        slot.GuestMemfd!.ConvertShared(ref args);
                    }
                }

                return null;
            }

            vm.SetMemoryAttributes(new KvmMemoryAttributesArgs { Address = gpa.Value, Size = size, Attributes = toPrivate ? KvmMemoryAttributes.Private : 0 });
            if (mode == ConversionMode.AttributesWithDiscard)
            {
                Discard(vm, gpa, size, discardPrivate: !toPrivate);
            }

            return null;
        }
        catch (KvmException e)
        {
            errno = e.Errno;
            return $"converting [{gpa},+0x{size:x}) to {(toPrivate ? "private" : "shared")} failed: {e.Message}";
        }
    }

    /// <summary>The first GPA in [start, end) that no memslot covers, or null.</summary>
    private static ulong? Uncovered(VmFd vm, ulong start, ulong end)
    {
        ulong at = start;
        while (at < end)
        {
            var slot = vm.Memslots.FirstOrDefault(s => s.BaseGfn * Page <= at && at < s.EndGfn * Page);
            if (slot is null)
            {
                return at;
            }

            at = slot.EndGfn * Page;
        }

        return null;
    }

    private static void Discard(VmFd vm, Gpa gpa, ulong size, bool discardPrivate)
    {
        foreach (var slot in vm.Memslots.Where(s => s.BaseGfn * Page < gpa.Value + size && gpa.Value < s.EndGfn * Page))
        {
            ulong start = Math.Max(gpa.Value, slot.BaseGfn * Page);
            ulong end = Math.Min(gpa.Value + size, slot.EndGfn * Page);
            if (discardPrivate && slot.GuestMemfd is { } gmem)
            {
                ulong offset = (slot.GuestMemfdPgoff * Page) + start - (slot.BaseGfn * Page);
                gmem.Fallocate(FallocateMode.KeepSize | FallocateMode.PunchHole, offset, end - start);
            }
            else if (!discardPrivate)
            {
                // MADV_DONTNEED on anonymous memory: the pages read back as zeros.
                var hva = slot.HostAddress(start);
                vm.Kvm.Host.Discard(hva, end - start);
            }
        }
    }

    private static IEnumerable<(Memslot Slot, ulong Offset, ulong Length)> GmemRanges(VmFd vm, Gpa gpa, ulong size)
    {
        foreach (var slot in vm.Memslots.Where(s => s.GuestMemfd is not null && s.BaseGfn * Page < gpa.Value + size && gpa.Value < s.EndGfn * Page))
        {
            ulong start = Math.Max(gpa.Value, slot.BaseGfn * Page);
            ulong end = Math.Min(gpa.Value + size, slot.EndGfn * Page);
            yield return (slot, (slot.GuestMemfdPgoff * Page) + start - (slot.BaseGfn * Page), end - start);
        }
    }
}
