namespace CocoLaunch.Vmm.Devices;

/// <summary>
/// The I/O port space: each device claims a range; an IN nobody claims reads all ones (no device drives the bus,
/// which is how Linux's probes see an absent device) and an OUT nobody claims is dropped.
/// </summary>
public sealed class PortBus
{
    private readonly AddressRanges<IPortDevice> devices = new();

    /// <summary>Claims ports [<paramref name="first"/>, <paramref name="first"/> + <paramref name="count"/>).</summary>
    /// <exception cref="ArgumentException">The range is empty, passes 0xFFFF, or overlaps a claimed one.</exception>
    public void Register(ushort first, ushort count, IPortDevice device)
    {
        if (first + count > 0x1_0000)
        {
            throw new ArgumentException($"port range 0x{first:X}+0x{count:X} passes 0xFFFF", nameof(count));
        }

        devices.Add(first, count, device, "port");
    }

    public uint In(ushort port, int size) =>
        devices.TryFind(port, out var device, out _) ? device.Read(port, size) & AccessWidth.AllOnes(size) : AccessWidth.AllOnes(size);

    public void Out(ushort port, int size, uint value)
    {
        if (devices.TryFind(port, out var device, out _))
        {
            device.Write(port, size, value & AccessWidth.AllOnes(size));
        }
    }
}
