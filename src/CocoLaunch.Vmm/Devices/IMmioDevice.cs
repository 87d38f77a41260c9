namespace CocoLaunch.Vmm.Devices;

/// <summary>A device decoding a range of guest-physical MMIO addresses; <c>offset</c> is relative to its base.</summary>
public interface IMmioDevice
{
    ulong Read(ulong offset, int size);

    void Write(ulong offset, int size, ulong value);
}
