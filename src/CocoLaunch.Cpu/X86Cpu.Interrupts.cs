namespace CocoLaunch.Cpu;

/// <summary>
/// External interrupts and NMIs as an interrupt controller raises them (Intel SDM vol. 3 §6.8 and §6.9; AMD APM
/// vol. 2 §8.5): taken between instructions when RFLAGS.IF is set and no STI or MOV SS shadow blocks them, and an
/// NMI blocked from its delivery until the next IRET. The controller itself (the local APIC) lives in the
/// hypervisor; it asks for an exit when the window opens, as VMX's interrupt-window exiting and SVM's VINTR do.
/// </summary>
public sealed partial class X86Cpu
{
    // The retired count at which an STI or MOV SS shadow covers the next instruction; -1 for none.
    private long interruptShadowAt = -1;
    private bool nmiBlocked;

    /// <summary>Whether an external interrupt could be taken before the next instruction.</summary>
    public bool InterruptWindowOpen => (State.SystemFlags & CpuState.FlagIf) != 0 && retired != interruptShadowAt;

    /// <summary>Whether an NMI could be taken before the next instruction (none is being handled, no MOV SS shadow).</summary>
    public bool NmiWindowOpen => !nmiBlocked && retired != interruptShadowAt;

    /// <summary>When set, <see cref="Run"/> returns <see cref="CpuExit.InterruptWindow"/> as soon as <see cref="InterruptWindowOpen"/>.</summary>
    public bool InterruptWindowExiting { get; set; }

    /// <summary>The time-stamp counter: one tick per retired instruction, plus what the platform added while halted.</summary>
    public ulong Tsc => (ulong)(retired + tscBase);

    /// <summary>Moves the TSC forward, as time passing while the processor is halted does.</summary>
    public void AdvanceTsc(ulong ticks) => tscBase += (long)ticks;

    /// <summary>
    /// Takes external interrupt <paramref name="vector"/> now, the return address being the next instruction (after
    /// a HLT, the one after it). False when the window is closed or the delivery touched a page the platform must
    /// deal with first (the next <see cref="Run"/> reports that stop); the controller keeps it pending then.
    /// </summary>
    public bool DeliverExternalInterrupt(int vector)
    {
        if (!InterruptWindowOpen || vector is < 0 or > 255)
        {
            return false;
        }

        return DeliverEvent(vector, $"external interrupt {vector}");
    }

    /// <summary>Takes an NMI now (vector 2); false when NMIs are blocked or the delivery stopped.</summary>
    public bool DeliverNmi()
    {
        if (!NmiWindowOpen)
        {
            return false;
        }

        bool delivered = DeliverEvent(Vector.Nmi, "NMI");
        nmiBlocked |= delivered;
        return delivered;
    }

    private bool DeliverEvent(int vector, string what)
    {
        UpdateMode();
        try
        {
            // An event is not a fault: no error code, even for a vector whose exception pushes one.
            Deliver(vector, null, State.Rip, isSoftware: false, isExternal: true);
            return true;
        }
        catch (GuestFault)
        {
            pendingExit = new CpuExit.Shutdown($"triple fault delivering {what} at 0x{State.Rip:x}");
            return true;
        }
        catch (PlatformStop stop)
        {
            pendingExit = new CpuExit.Stopped(stop.Reason);
            return false;
        }
    }

    /// <summary>STI (when IF was clear), MOV SS and POP SS block interrupts until the next instruction retires.</summary>
    private void BeginInterruptShadow() => interruptShadowAt = retired + 1;

    /// <summary>IRET ends NMI blocking (SDM §6.7.1).</summary>
    private void EndNmiBlocking() => nmiBlocked = false;

    /// <summary>
    /// Where the run loop stands with a requested interrupt window: <see cref="WindowStep.Open"/> to stop,
    /// <see cref="WindowStep.Shadowed"/> after running the one instruction in an STI/MOV SS shadow (STI; HLT halts
    /// inside it, and the interrupt then wakes the HLT), <see cref="WindowStep.Closed"/> to run on.
    /// </summary>
    private WindowStep StepTowardInterruptWindow(ref long budget)
    {
        if (!InterruptWindowExiting || (State.SystemFlags & CpuState.FlagIf) == 0)
        {
            return WindowStep.Closed;
        }

        if (retired == interruptShadowAt)
        {
            budget -= RunBlock(1);
            return WindowStep.Shadowed;
        }

        return WindowStep.Open;
    }

    private enum WindowStep
    {
        Closed,
        Shadowed,
        Open,
    }
}
