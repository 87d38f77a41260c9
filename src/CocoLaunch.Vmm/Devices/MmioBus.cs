namespace CocoLaunch.Vmm.Devices;

/// <summary>
/// Guest-physical MMIO windows: each device claims a range and sees offsets from its base. An address nobody claims
/// is reported back (false) so the caller can decide between "RAM", "all ones" and a fault.
/// </summary>
public sealed class MmioBus
{
    private readonly AddressRanges<IMmioDevice> devices = new();

    /// <exception cref="ArgumentException">The range is empty, wraps, or overlaps a claimed one.</exception>
    public void Register(ulong @base, ulong length, IMmioDevice device) => devices.Add(@base, length, device, "MMIO");

    /// <summary>Releases the device's windows, as a bridge does when its decode register moves or closes them.</summary>
    public void Unregister(IMmioDevice device) => devices.Remove(device);

    public bool TryRead(ulong gpa, int size, out ulong value)
    {
        if (devices.TryFind(gpa, out var device, out ulong first))
        {
            value = device.Read(gpa - first, size) & AccessWidth.AllOnes64(size);
            return true;
        }

        value = AccessWidth.AllOnes64(size);
        return false;
    }

    public bool TryWrite(ulong gpa, int size, ulong value)
    {
        if (devices.TryFind(gpa, out var device, out ulong first))
        {
            device.Write(gpa - first, size, value & AccessWidth.AllOnes64(size));
            return true;
        }

        return false;
    }
}
