namespace CocoLaunch.Vmm.Devices;

/// <summary>
/// The legacy reset paths Linux's native_machine_emergency_restart (arch/x86/kernel/reboot.c) tries: the chipset
/// reset control register at 0xCF9 (Intel ICH9 datasheet §13.7.5: RST_CPU going to 1 resets, SYS_RST and
/// FULL_RST choose how hard) and the keyboard controller's pulse-reset command 0xFE at 0x64. The 8042 is absent
/// (the FADT says so), so its status register reads 0: no output waiting, input buffer free.
/// </summary>
public sealed class ResetPorts : IPortDevice
{
    public const ushort ResetControl = 0xCF9;
    public const ushort KeyboardCommand = 0x64;

    private const byte SysRst = 0x02;
    private const byte RstCpu = 0x04;
    private const byte FullRst = 0x08;
    private const byte PulseResetLine = 0xFE;

    private byte resetControl;

    public bool ResetRequested { get; private set; }

    public uint Read(ushort port, int size) => port == ResetControl ? resetControl : 0u;

    public void Write(ushort port, int size, uint value)
    {
        byte b = (byte)value;
        if (port == ResetControl)
        {
            if ((b & RstCpu) != 0 && (resetControl & RstCpu) == 0)
            {
                ResetRequested = true;
            }

            resetControl = (byte)(b & (SysRst | FullRst));
        }
        else if (port == KeyboardCommand && b == PulseResetLine)
        {
            ResetRequested = true;
        }
    }
}
