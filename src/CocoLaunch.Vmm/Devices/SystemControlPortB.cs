namespace CocoLaunch.Vmm.Devices;

/// <summary>
/// Port 0x61 of the PC/AT (NMI status and control): bit 0 gates 8254 counter 2, bit 1 enables the speaker, bits
/// 2–3 mask parity/channel-check NMIs; bit 4 is the refresh toggle and bit 5 counter 2's OUT, both read-only.
/// Linux's quick_pit_calibrate (arch/x86/kernel/tsc.c) writes bit 0 and polls bit 5.
/// </summary>
public sealed class SystemControlPortB(Pit8254 pit, IDeviceClock clock) : IPortDevice
{
    public const ushort Port = 0x61;
    private const byte Timer2Gate = 0x01;
    private const byte Writable = 0x0F;
    private const byte RefreshToggle = 0x10;
    private const byte Timer2Output = 0x20;

    // The refresh request flip-flop toggles every 15.085 µs on the AT, which old delay loops count.
    private const ulong RefreshPeriodNs = 15_085;

    private byte control;

    public uint Read(ushort port, int size)
    {
        int value = control
            | ((clock.Nanoseconds / RefreshPeriodNs) % 2 == 1 ? RefreshToggle : 0)
            | (pit.Channel2Output ? Timer2Output : 0);
        return (uint)value;
    }

    public void Write(ushort port, int size, uint value)
    {
        control = (byte)(value & Writable);
        pit.Channel2Gate = (control & Timer2Gate) != 0;
    }
}
