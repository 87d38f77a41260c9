namespace CocoLaunch.Cpu;

/// <summary>Exception and interrupt delivery through the real-mode IVT or the protected/long-mode IDT.</summary>
public sealed partial class X86Cpu
{
    private void DeliverFault(GuestFault fault, ulong rip)
    {
        // A fault's return address is the instruction itself; RIP points there too while delivering, so a
        // delivery the platform stops leaves the instruction to run again.
        State.Rip = rip;
        EndBlock();
        try
        {
            Deliver(fault.VectorNumber, fault.ErrorCode, rip, isSoftware: false);
        }
        catch (GuestFault)
        {
            Exit(new CpuExit.Shutdown($"triple fault delivering vector {fault.VectorNumber} at 0x{rip:x}"));
        }
    }

    /// <summary>
    /// Delivers a vector with <paramref name="returnRip"/> as the saved instruction pointer. A fault while
    /// delivering is combined with the vector being delivered as the SDM's table says: two contributory faults,
    /// or a page fault and then a contributory fault or page fault, become #DF; otherwise the new fault is
    /// delivered instead. A fault while delivering #DF is a triple fault: the GuestFault escapes to the caller.
    /// </summary>
    private void Deliver(int vector, uint? errorCode, ulong returnRip, bool isSoftware, bool isExternal = false)
    {
        // If the platform stops an access of the delivery (a stack page to convert first), the state goes back
        // to the faulting instruction, which runs again later and faults again.
        var saved = (Rsp: State.Gpr[4], Ss: State.Ss, Cs: State.Cs, Rip: State.Rip, Rflags: State.Rflags);

        // Benign faults can chain (a #AC whose handler's stack is unmapped gives a #PF): bound the chain, as a
        // guest must never make the emulator loop.
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                DeliverOnce(vector, errorCode, returnRip, isSoftware, isExternal);
                break;
            }
            catch (PlatformStop)
            {
                (State.Gpr[4], State.Ss, State.Cs, State.Rip, State.Rflags) = saved;
                UpdateMode();
                FlushTlb(); // the CPL may be back to what it was
                throw;
            }
            catch (GuestFault nested) when (vector != Vector.DoubleFault && attempt < 4)
            {
                // The next vector is delivered from the interrupted state, not from a half-built frame.
                (State.Gpr[4], State.Ss, State.Cs, State.Rip, State.Rflags) = saved;
                UpdateMode();
                bool doubleFault = IsContributoryOrPageFault(vector) && IsContributoryOrPageFault(nested.VectorNumber)
                    && !(vector != Vector.PageFault && nested.VectorNumber == Vector.PageFault);
                (vector, errorCode) = doubleFault ? (Vector.DoubleFault, 0u) : (nested.VectorNumber, nested.ErrorCode);
                isSoftware = false;
                isExternal = false;
            }
        }

        UpdateMode();
        EndBlock();
    }

    /// <summary>One attempt: the gate, the descriptors, the TSS and the pushed frame are implicit supervisor accesses.</summary>
    private void DeliverOnce(int vector, uint? errorCode, ulong returnRip, bool isSoftware, bool isExternal) =>
        AsSupervisor(cpu =>
        {
            try
            {
                cpu.DeliverOnceCore(vector, errorCode, returnRip, isSoftware, isExternal);
            }
            catch (PlatformFault f)
            {
                throw new GuestFault(f.Vector, f.ErrorCode); // a fault while delivering: combined as any other
            }

            return 0;
        });

    private void DeliverOnceCore(int vector, uint? errorCode, ulong returnRip, bool isSoftware, bool isExternal)
    {
        // External interrupts and NMIs push no error code, whatever their vector.
        bool pushesErrorCode = Vector.HasErrorCode(vector) && !isSoftware && !isExternal;
        if ((State.Cr0 & CpuState.Cr0Pe) == 0)
        {
            DeliverReal(vector, returnRip);
        }
        else if (State.LongMode)
        {
            DeliverLong(vector, pushesErrorCode ? errorCode ?? 0 : null, returnRip, isSoftware);
        }
        else
        {
            DeliverProtected(vector, pushesErrorCode ? errorCode ?? 0 : null, returnRip, isSoftware);
        }
    }

    private static bool IsContributoryOrPageFault(int v) => v is Vector.DivideError or Vector.InvalidTss or Vector.SegmentNotPresent
        or Vector.StackFault or Vector.GeneralProtection or Vector.PageFault;

    private void DeliverReal(int vector, ulong returnRip)
    {
        if ((ulong)(vector * 4) + 3 > State.Idtr.Limit)
        {
            throw GuestFault.Gp();
        }

        ulong entry = ReadLinear(State.Idtr.Base + (ulong)(vector * 4), 4);
        Push16((ushort)State.Rflags);
        Push16(State.Cs.Selector);
        Push16((ushort)returnRip);
        State.Rflags &= ~(CpuState.FlagIf | CpuState.FlagTf | CpuState.FlagAc);
        State.Cs = Segment.RealMode((ushort)(entry >> 16), State.Cs);
        State.Rip = entry & 0xFFFF;
    }

    private void DeliverProtected(int vector, uint? errorCode, ulong returnRip, bool isSoftware)
    {
        var rights = AccessRights;
        ulong gate = ReadGate(vector, 8, isSoftware, out _);
        int type = (int)((gate >> 40) & 0xF);
        ushort selector = (ushort)(gate >> 16);
        ulong offset = (gate & 0xFFFF) | ((gate >> 32) & 0xFFFF_0000);
        var target = LoadCodeDescriptor(selector);
        bool gate32 = (type & 8) != 0;
        int size = gate32 ? 4 : 2;
        ulong oldFlags = State.Rflags;
        ushort oldCs = State.Cs.Selector;
        if (target.Dpl < State.Cpl)
        {
            // Inner privilege: switch to the TSS stack for the new CPL and save the old SS:ESP there.
            ushort oldSs = State.Ss.Selector;
            ulong oldEsp = State.Gpr[4];
            ulong tss = State.Tr.Base;
            ulong newEsp = ReadLinear(tss + 4 + (ulong)(8 * target.Dpl), 4);
            ushort newSs = (ushort)ReadLinear(tss + 8 + (ulong)(8 * target.Dpl), 2);
            State.Ss = LoadDataDescriptor(newSs, requireWritable: true);
            State.Gpr[4] = newEsp;
            PushSized(oldSs, size);
            PushSized(oldEsp, size);
        }

        PushSized(oldFlags, size);
        PushSized(oldCs, size);
        PushSized(returnRip, size);
        if (errorCode is { } code)
        {
            PushSized(code, size);
        }

        State.Cs = target;
        State.Cs.Selector = (ushort)((selector & ~3) | target.Dpl);
        State.Rip = gate32 ? offset : offset & 0xFFFF;
        State.Rflags &= ~(CpuState.FlagTf | CpuState.FlagAc | (1UL << 14) | (1UL << 16) | (1UL << 17));
        if ((type & 1) == 0)
        {
            State.Rflags &= ~CpuState.FlagIf; // interrupt gate
        }

        FlushTlbIfRightsChanged(rights);
    }

    private void DeliverLong(int vector, uint? errorCode, ulong returnRip, bool isSoftware)
    {
        var rights = AccessRights;
        ulong low = ReadGate(vector, 16, isSoftware, out ulong high);
        ushort selector = (ushort)(low >> 16);
        ulong offset = (low & 0xFFFF) | ((low >> 32) & 0xFFFF_0000) | (high << 32);
        int ist = (int)((low >> 32) & 7);
        var target = LoadCodeDescriptor(selector);
        if (!target.Long)
        {
            throw GuestFault.Gp((uint)(selector & ~3));
        }

        ulong oldSs = State.Ss.Selector, oldRsp = State.Gpr[4], oldFlags = State.Rflags, oldCs = State.Cs.Selector;
        ulong rsp = State.Gpr[4];
        if (ist != 0)
        {
            rsp = ReadLinear(State.Tr.Base + 0x24 + (ulong)(8 * (ist - 1)), 8);
        }
        else if (target.Dpl < State.Cpl)
        {
            rsp = ReadLinear(State.Tr.Base + 4 + (ulong)(8 * target.Dpl), 8);
        }

        // The frame goes on a 64-bit stack whatever the interrupted code's size (compatibility mode included): flat,
        // canonical or #SS(0), and RSP changes only once all of it is written.
        ulong sp = rsp & ~0xFUL;
        ulong[] frame = errorCode is { } code ? [code, returnRip, oldCs, oldFlags, oldRsp, oldSs] : [returnRip, oldCs, oldFlags, oldRsp, oldSs];
        for (int n = frame.Length - 1; n >= 0; n--)
        {
            sp -= 8;
            if (!IsCanonical(sp))
            {
                throw new GuestFault(Vector.StackFault, 0);
            }

            WriteLinear(sp, 8, frame[n]);
        }

        State.Gpr[4] = sp;
        if (target.Dpl < State.Cpl)
        {
            State.Ss = new Segment(0, 0, 0, 0); // a null SS with RPL = new CPL, as long mode loads it
        }

        State.Cs = target;
        State.Cs.Selector = (ushort)((selector & ~3) | target.Dpl);
        State.Rip = offset;
        State.Rflags &= ~(CpuState.FlagTf | CpuState.FlagAc | (1UL << 14) | (1UL << 16) | (1UL << 17));
        if ((low & (1UL << 40)) == 0)
        {
            State.Rflags &= ~CpuState.FlagIf;
        }

        FlushTlbIfRightsChanged(rights);
    }

    /// <summary>Reads an IDT gate; software INT n also needs gate DPL ≥ CPL.</summary>
    private ulong ReadGate(int vector, int gateSize, bool isSoftware, out ulong high)
    {
        uint idtError = (uint)((vector * 8) | 2);
        if ((ulong)(vector * gateSize) + (ulong)gateSize - 1 > State.Idtr.Limit)
        {
            throw GuestFault.Gp(idtError);
        }

        ulong address = State.Idtr.Base + (ulong)(vector * gateSize);
        ulong low = ReadLinear(address, 8);
        high = gateSize == 16 ? ReadLinear(address + 8, 8) : 0;
        int type = (int)((low >> 40) & 0x1F);
        if (type is not (0x0E or 0x0F or 0x06 or 0x07))
        {
            throw GuestFault.Gp(idtError);
        }

        if (isSoftware && (int)((low >> 45) & 3) < State.Cpl)
        {
            throw GuestFault.Gp(idtError);
        }

        if ((low & (1UL << 47)) == 0)
        {
            throw new GuestFault(Vector.SegmentNotPresent, idtError);
        }

        return low;
    }

    private Segment LoadCodeDescriptor(ushort selector)
    {
        if ((selector & ~3) == 0)
        {
            throw GuestFault.Gp();
        }

        var s = Segment.FromDescriptor(selector, ReadDescriptor(selector));
        if (!s.IsCode)
        {
            throw GuestFault.Gp((uint)(selector & ~3));
        }

        if (!s.Present)
        {
            throw new GuestFault(Vector.SegmentNotPresent, (uint)(selector & ~3));
        }

        return s;
    }
}
