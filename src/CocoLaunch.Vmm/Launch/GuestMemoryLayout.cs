using CocoLaunch.Abi;
using CocoLaunch.Spec;

namespace CocoLaunch.Vmm.Launch;

/// <summary>One memslot the launcher will create.</summary>
/// <param name="Firmware">The slot that holds the firmware image just below 4 GiB.</param>
public sealed record PlannedSlot(uint Slot, Gpa Gpa, ulong Size, bool Private, bool Firmware)
{
    public ulong End => Gpa.Value + Size;
}

/// <summary>Where guest RAM and firmware go in guest-physical space.</summary>
public static class GuestMemoryLayout
{
    /// <summary>QEMU q35: with at least 2.75 GiB the low RAM stops at 2 GiB (the PCI hole), else at 2.75 GiB.</summary>
    public const ulong Q35LowMemSplit = 0xB000_0000;

    /// <summary>
    /// The spec's slots, or QEMU q35's split of <c>memory.size</c> around the PCI hole; plus a firmware slot
    /// ending at 4 GiB. RAM is private on platforms with private memory.
    /// </summary>
    public static IReadOnlyList<PlannedSlot> Plan(LaunchSpec spec, ulong firmwareSize)
    {
        bool privateRam = spec.Platform.HasPrivateMemory();
        var slots = new List<PlannedSlot>();
        if (spec.Memory.Slots.Count > 0)
        {
            foreach (var s in spec.Memory.Slots)
            {
                slots.Add(new PlannedSlot((uint)slots.Count, s.Gpa, s.Size, s.Kind == MemslotKind.Private, Firmware: false));
            }
        }
        else
        {
            ulong size = spec.Memory.Size;
            ulong low = Math.Min(size, size >= Q35LowMemSplit ? 0x8000_0000UL : Q35LowMemSplit);
            slots.Add(new PlannedSlot(0, Gpa.Zero, low, privateRam, Firmware: false));
            if (size > low)
            {
                slots.Add(new PlannedSlot(1, Gpa.FourGiB, size - low, privateRam, Firmware: false));
            }
        }

        // An SVSM sits below the firmware's variable store, in the same private slot (QEMU's SVSM layout).
        firmwareSize += spec.Snp?.Svsm is { } svsm ? Snp.SvsmImage.Extent(svsm) : 0;
        var firmware = new PlannedSlot((uint)slots.Count, new Gpa(Gpa.FourGiB.Value - firmwareSize), firmwareSize, spec.Platform is KvmVmType.Tdx or KvmVmType.Snp, Firmware: true);
        var clash = slots.FirstOrDefault(s => s.Gpa.Value < firmware.End && firmware.Gpa.Value < s.End);
        if (clash is not null)
        {
            throw new LaunchException($"memory slot [{clash.Gpa},0x{clash.End:x}) overlaps the firmware at [{firmware.Gpa},0x{firmware.End:x})");
        }

        slots.Add(firmware);
        return slots;
    }
}

/// <summary>A launch that cannot proceed: the message names the step and the cause.</summary>
public sealed class LaunchException(string message) : Exception(message);
