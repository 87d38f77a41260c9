namespace CocoLaunch.Vmm.Devices;

/// <summary>
/// A port with nothing behind it that should still be claimed, such as 0x80, which Linux's io_delay
/// (arch/x86/kernel/io_delay.c) writes to slow down legacy I/O: writes vanish, reads float high.
/// </summary>
public sealed class NullPort : IPortDevice
{
    public const ushort PostCode = 0x80;

    public uint Read(ushort port, int size) => AccessWidth.AllOnes(size);

    public void Write(ushort port, int size, uint value)
    {
    }
}
