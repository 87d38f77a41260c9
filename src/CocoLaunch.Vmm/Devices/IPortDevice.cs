namespace CocoLaunch.Vmm.Devices;

/// <summary>A device decoding a range of I/O ports. <c>size</c> is 1, 2 or 4.</summary>
public interface IPortDevice
{
    uint Read(ushort port, int size);

    void Write(ushort port, int size, uint value);
}
