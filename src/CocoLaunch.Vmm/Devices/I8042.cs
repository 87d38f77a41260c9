namespace CocoLaunch.Vmm.Devices;

/// <summary>
/// The 8042 keyboard controller of QEMU's PC (hw/input/pckbd.c) with its PS/2 keyboard and mouse (hw/input/ps2.c), as
/// far as Linux's i8042 and atkbd drivers probe them: the status and command port 0x64 (command byte, self and
/// interface tests, port enables, the AUX loopback, writes to the mouse, the pulse-reset line) and the data port 0x60,
/// whose bytes queue in the output buffer and raise IRQ 1 (keyboard) or IRQ 12 (mouse) when the command byte lets
/// them. The devices answer their commands (reset, identify, LEDs, rates, enable); no key is ever pressed.
/// </summary>
public sealed class I8042(IInterruptLines irq, ResetPorts reset) : IPortDevice
{
    public const ushort Data = 0x60, Command = 0x64;
    public const int KeyboardIrq = 1, MouseIrq = 12;

    // Status register bits.
    private const byte OutputFull = 0x01, SystemFlag = 0x04, LastWasCommand = 0x08, Unlocked = 0x10, AuxData = 0x20;

    // Command byte bits: interrupts, port disables, scancode translation.
    private const byte KeyboardInterrupt = 0x01, MouseInterrupt = 0x02, KeyboardDisabled = 0x10, MouseDisabled = 0x20, Translate = 0x40;

    // Controller commands (port 0x64).
    private const byte ReadCommandByte = 0x20, WriteCommandByte = 0x60, DisableMouse = 0xA7, EnableMouse = 0xA8, TestMouse = 0xA9;
    private const byte SelfTest = 0xAA, TestKeyboard = 0xAB, DisableKeyboard = 0xAD, EnableKeyboard = 0xAE, WriteOutputPort = 0xD1;
    private const byte WriteKeyboardOutput = 0xD2, WriteMouseOutput = 0xD3, WriteToMouse = 0xD4, PulseReset = 0xFE;

    // Device replies.
    private const byte Ack = 0xFA, Resend = 0xFE, SelfTestPassed = 0xAA, ControllerOk = 0x55, Echo = 0xEE;

    private readonly Lock gate = new();
    private readonly Queue<(byte Value, bool FromMouse)> output = new();

    /// <summary>QEMU's command byte after reset: both interrupts, system flag, translation.</summary>
    private byte commandByte = KeyboardInterrupt | MouseInterrupt | SystemFlag | Translate;

    private byte status = SystemFlag | Unlocked;

    /// <summary>A controller command waiting for its data byte, or a device command waiting for its parameter.</summary>
    private byte pendingController, pendingKeyboard, pendingMouse;

    public uint Read(ushort port, int size)
    {
        int? raise = null;
        uint value;
        lock (gate)
        {
            if (port == Command)
            {
                return (uint)(status | (output.Count > 0 ? OutputFull : 0) | (output.TryPeek(out var head) && head.FromMouse ? AuxData : 0));
            }

            if (!output.TryDequeue(out var next))
            {
                return 0;
            }

            value = next.Value;
            raise = HeadIrq();
        }

        Pulse(raise);
        return value;
    }

    public void Write(ushort port, int size, uint value)
    {
        byte b = (byte)value;
        int? raise;
        lock (gate)
        {
            bool wasEmpty = output.Count == 0;
            if (port == Command)
            {
                status |= LastWasCommand;
                ControllerCommand(b);
            }
            else
            {
                status &= unchecked((byte)~LastWasCommand);
                DataByte(b);
            }

            raise = wasEmpty ? HeadIrq() : null;
        }

        Pulse(raise);
    }

    private void ControllerCommand(byte command)
    {
        pendingController = 0;
        switch (command)
        {
            case ReadCommandByte:
                output.Enqueue((commandByte, false));
                break;
            case WriteCommandByte or WriteOutputPort or WriteKeyboardOutput or WriteMouseOutput or WriteToMouse:
                pendingController = command;
                break;
            case DisableMouse:
                commandByte |= MouseDisabled;
                break;
            case EnableMouse:
                commandByte &= unchecked((byte)~MouseDisabled);
                break;
            case TestMouse or TestKeyboard:
                output.Enqueue((0x00, false)); // no clock or data line stuck
                break;
            case SelfTest:
                status |= SystemFlag;
                output.Enqueue((ControllerOk, false));
                break;
            case DisableKeyboard:
                commandByte |= KeyboardDisabled;
                break;
            case EnableKeyboard:
                commandByte &= unchecked((byte)~KeyboardDisabled);
                break;
            case PulseReset:
                reset.Write(ResetPorts.KeyboardCommand, 1, PulseReset);
                break;
        }
    }

    private void DataByte(byte b)
    {
        byte command = pendingController;
        pendingController = 0;
        switch (command)
        {
            case WriteCommandByte:
                commandByte = b;
                status = (byte)((status & ~SystemFlag) | (b & SystemFlag));
                return;
            case WriteOutputPort:
                return;
            case WriteKeyboardOutput:
                output.Enqueue((b, false));
                return;
            case WriteMouseOutput:
                output.Enqueue((b, true));
                return;
            case WriteToMouse:
                MouseCommand(b);
                return;
            default:
                KeyboardCommand(b);
                return;
        }
    }

    /// <summary>The keyboard's answers (hw/input/ps2.c ps2_write_keyboard).</summary>
    private void KeyboardCommand(byte b)
    {
        if (pendingKeyboard != 0)
        {
            pendingKeyboard = 0;
            output.Enqueue((Ack, false)); // the parameter of set LEDs, rate or scancode set
            return;
        }

        switch (b)
        {
            case 0xFF: // reset and self test
                output.Enqueue((Ack, false));
                output.Enqueue((SelfTestPassed, false));
                break;
            case 0xF2: // identify: an MF2 keyboard, 0x41 as the controller translates 0x83
                output.Enqueue((Ack, false));
                output.Enqueue((0xAB, false));
                output.Enqueue(((commandByte & Translate) != 0 ? (byte)0x41 : (byte)0x83, false));
                break;
            case 0xED or 0xF3 or 0xF0: // set LEDs, typematic rate, scancode set: a parameter follows
                pendingKeyboard = b;
                output.Enqueue((Ack, false));
                break;
            case 0xEE:
                output.Enqueue((Echo, false));
                break;
            case >= 0xF4 and <= 0xFD:
                output.Enqueue((Ack, false));
                break;
            default:
                output.Enqueue((Resend, false));
                break;
        }
    }

    /// <summary>The mouse's answers (hw/input/ps2.c ps2_write_mouse): a standard PS/2 mouse, ID 0.</summary>
    private void MouseCommand(byte b)
    {
        if (pendingMouse != 0)
        {
            pendingMouse = 0;
            output.Enqueue((Ack, true)); // the parameter of set sample rate or resolution
            return;
        }

        output.Enqueue((Ack, true));
        switch (b)
        {
            case 0xFF: // reset: self test passed, device ID 0
                output.Enqueue((SelfTestPassed, true));
                output.Enqueue((0x00, true));
                break;
            case 0xF2: // identify
                output.Enqueue((0x00, true));
                break;
            case 0xE9: // status request: three bytes
                output.Enqueue((0x00, true));
                output.Enqueue((0x02, true));
                output.Enqueue((0x64, true));
                break;
            case 0xF3 or 0xE8: // sample rate, resolution: a parameter follows
                pendingMouse = b;
                break;
        }
    }

    /// <summary>The IRQ the byte now at the head of the output buffer raises, if the command byte enables it.</summary>
    private int? HeadIrq()
    {
        if (!output.TryPeek(out var head))
        {
            return null;
        }

        return head.FromMouse
            ? ((commandByte & MouseInterrupt) != 0 ? MouseIrq : null)
            : ((commandByte & KeyboardInterrupt) != 0 ? KeyboardIrq : null);
    }

    private void Pulse(int? line)
    {
        if (line is int gsi)
        {
            irq.SetLevel(gsi, true);
            irq.SetLevel(gsi, false);
        }
    }
}
